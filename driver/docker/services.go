package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"berth/driver"
	"berth/driver/internal/engineerr"
	"berth/driver/internal/images"
	"berth/driver/internal/labels"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/go-connections/nat"
)

// A service on one engine is its definition in the state file and a group
// of replica containers labelled with its name and the generation of the
// definition they run. Berth converges replicas to the definition itself,
// before each call returns and on every reconcile pass, one replica at a
// time under the service's lock.

// replicaGrace is the time a replica being replaced gets to exit.
const replicaGrace = 10 * time.Second

var _ driver.ServiceConverger = (*Driver)(nil)

func (d *Driver) CreateService(ctx context.Context, spec *driver.ServiceSpec) (*driver.Service, error) {
	if err := d.ensureNetwork(ctx); err != nil {
		return nil, err
	}
	if err := d.imagePresent(ctx, spec.Image); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	if err := d.state.putService(serviceRecord{Spec: *spec, Generation: 1, Created: now, Updated: now}, true); err != nil {
		return nil, err
	}
	return d.convergeAndGet(ctx, spec.Name)
}

func (d *Driver) GetService(ctx context.Context, name string, filter driver.Filter) (*driver.Service, error) {
	rec, ok := d.state.getService(name)
	if !ok || (filter.Owner != "" && rec.Spec.Owner != filter.Owner) {
		return nil, fmt.Errorf("%w: service %q", driver.ErrNotFound, name)
	}
	replicas, err := d.replicas(ctx, name)
	if err != nil {
		return nil, err
	}
	return rec.service(replicas[name]), nil
}

func (d *Driver) ListServices(ctx context.Context, filter driver.Filter) ([]*driver.Service, error) {
	replicas, err := d.replicas(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []*driver.Service
	for _, rec := range d.state.listServices() {
		if filter.Owner == "" || rec.Spec.Owner == filter.Owner {
			out = append(out, rec.service(replicas[rec.Spec.Name]))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (d *Driver) UpdateService(ctx context.Context, name string, spec *driver.ServiceSpec) (*driver.Service, error) {
	if err := d.imagePresent(ctx, spec.Image); err != nil {
		return nil, err
	}
	err := d.changeService(name, func(rec *serviceRecord) {
		next := *spec
		next.Name, next.Owner, next.Replicas = rec.Spec.Name, rec.Spec.Owner, rec.Spec.Replicas
		rec.Spec = next
		rec.Generation++
	})
	if err != nil {
		return nil, err
	}
	return d.convergeAndGet(ctx, name)
}

func (d *Driver) ScaleService(ctx context.Context, name string, replicas int) (*driver.Service, error) {
	if err := d.changeService(name, func(rec *serviceRecord) { rec.Spec.Replicas = replicas }); err != nil {
		return nil, err
	}
	return d.convergeAndGet(ctx, name)
}

func (d *Driver) RemoveService(ctx context.Context, name string) error {
	unlock := d.lockService(name)
	defer unlock()
	if err := d.state.deleteService(name); err != nil {
		return err
	}
	replicas, err := d.replicas(ctx, name)
	if err != nil {
		return err
	}
	for _, r := range replicas[name] {
		if err := d.Remove(ctx, r.ID); err != nil {
			return err
		}
	}
	return nil
}

// ConvergeServices brings every service's replicas to its definition: the
// reconcile pass calls it, so replicas that died are replaced.
func (d *Driver) ConvergeServices(ctx context.Context) error {
	var errs []error
	for _, rec := range d.state.listServices() {
		errs = append(errs, d.converge(ctx, rec.Spec.Name))
	}
	return errors.Join(errs...)
}

// changeService applies change to a stored definition under its lock.
func (d *Driver) changeService(name string, change func(*serviceRecord)) error {
	unlock := d.lockService(name)
	defer unlock()
	rec, ok := d.state.getService(name)
	if !ok {
		return fmt.Errorf("%w: service %q", driver.ErrNotFound, name)
	}
	change(&rec)
	rec.Updated = time.Now().UTC()
	return d.state.putService(rec, false)
}

func (d *Driver) convergeAndGet(ctx context.Context, name string) (*driver.Service, error) {
	if err := d.converge(ctx, name); err != nil {
		return nil, err
	}
	return d.GetService(ctx, name, driver.Filter{})
}

// converge makes the service's replicas match its definition: it starts a
// replica of the current generation, then removes one stale replica (of an
// older generation, or not running), and so on, so an update replaces
// replicas one by one; then it adds or removes replicas to the count.
func (d *Driver) converge(ctx context.Context, name string) error {
	unlock := d.lockService(name)
	defer unlock()
	rec, ok := d.state.getService(name)
	if !ok {
		return fmt.Errorf("%w: service %q", driver.ErrNotFound, name)
	}
	all, err := d.replicas(ctx, name)
	if err != nil {
		return err
	}
	var current, stale []driver.Replica
	for _, r := range all[name] {
		if r.State == driver.StateRunning && r.generation == rec.Generation {
			current = append(current, r.Replica)
		} else {
			stale = append(stale, r.Replica)
		}
	}
	for len(current) < rec.Spec.Replicas {
		id, err := d.startReplica(ctx, &rec)
		if err != nil {
			return err
		}
		current = append(current, driver.Replica{ID: id})
		if len(stale) > 0 {
			if err := d.stopReplica(ctx, stale[0].ID); err != nil {
				return err
			}
			stale = stale[1:]
		}
	}
	for _, r := range append(stale, current[rec.Spec.Replicas:]...) {
		if err := d.stopReplica(ctx, r.ID); err != nil {
			return err
		}
	}
	return nil
}

func (d *Driver) startReplica(ctx context.Context, rec *serviceRecord) (string, error) {
	bindings := nat.PortMap{}
	for _, p := range rec.Spec.Ports {
		bindings[nat.Port(strconv.Itoa(p)+"/tcp")] = []nat.PortBinding{{HostIP: d.opts.PublishIP}}
	}
	exposed := nat.PortSet{}
	for p := range bindings {
		exposed[p] = struct{}{}
	}
	config := &container.Config{
		Image:        rec.Spec.Image,
		Env:          rec.Spec.Env,
		Cmd:          rec.Spec.Cmd,
		ExposedPorts: exposed,
		Labels: map[string]string{
			labels.Instance:   d.opts.Instance,
			labels.Kind:       labels.KindService,
			labels.Service:    rec.Spec.Name,
			labels.Owner:      rec.Spec.Owner,
			labels.Generation: strconv.Itoa(rec.Generation),
		},
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	callCtx, cancel := d.call(ctx)
	defer cancel()
	resp, err := d.engine.ContainerCreate(callCtx, config, d.hardened(rec.Spec.Resources, rec.Spec.CapAdd, bindings), nil, nil,
		rec.Spec.Name+"."+hex.EncodeToString(suffix))
	if err != nil {
		return "", engineerr.Wrap(err, "create replica")
	}
	if err := d.engine.ContainerStart(callCtx, resp.ID, container.StartOptions{}); err != nil {
		d.Remove(context.WithoutCancel(ctx), resp.ID)
		return "", engineerr.Wrap(err, "start replica")
	}
	return resp.ID, nil
}

func (d *Driver) stopReplica(ctx context.Context, id string) error {
	if err := d.Stop(ctx, id, replicaGrace); err != nil && !errors.Is(err, driver.ErrNotFound) {
		return err
	}
	return d.Remove(ctx, id)
}

// replica is a replica and the generation of the definition it runs.
type replica struct {
	driver.Replica
	generation int
}

// replicas lists the replicas of the named service, or of all services for
// name "", by service name: one engine call.
func (d *Driver) replicas(ctx context.Context, name string) (map[string][]replica, error) {
	args := filters.NewArgs(
		filters.Arg("label", labels.Instance+"="+d.opts.Instance),
		filters.Arg("label", labels.Kind+"="+labels.KindService))
	if name != "" {
		args.Add("label", labels.Service+"="+name)
	}
	ctx, cancel := d.call(ctx)
	defer cancel()
	list, err := d.engine.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
	if err != nil {
		return nil, engineerr.Wrap(err, "list replicas")
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Created < list[j].Created })
	out := map[string][]replica{}
	for i := range list {
		s := &list[i]
		r := replica{Replica: driver.Replica{ID: s.ID, State: stateOf(string(s.State))}}
		r.generation, _ = strconv.Atoi(s.Labels[labels.Generation])
		if r.State == driver.StateRunning {
			r.Ports = publishedPorts(s)
		}
		out[s.Labels[labels.Service]] = append(out[s.Labels[labels.Service]], r)
	}
	return out, nil
}

// service is the portable view of the record with its replicas.
func (rec *serviceRecord) service(replicas []replica) *driver.Service {
	s := &driver.Service{
		Name: rec.Spec.Name, Owner: rec.Spec.Owner, Image: rec.Spec.Image,
		Cmd: rec.Spec.Cmd, Env: rec.Spec.Env, Ports: rec.Spec.Ports,
		Desired: rec.Spec.Replicas, CreatedAt: rec.Created, UpdatedAt: rec.Updated,
		Replicas: []driver.Replica{},
	}
	for _, r := range replicas {
		if r.State == driver.StateRunning {
			s.Running++
			s.Replicas = append(s.Replicas, r.Replica)
		}
	}
	return s
}

// imagePresent checks that the engine has the image.
func (d *Driver) imagePresent(ctx context.Context, ref string) error {
	ctx, cancel := d.call(ctx)
	defer cancel()
	_, err := images.Resolve(ctx, d.engine, ref)
	return err
}

// lockService serializes changes to one service within this process, the
// only one that drives this engine's services.
func (d *Driver) lockService(name string) (unlock func()) {
	mu, _ := d.serviceLocks.LoadOrStore(name, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	return mu.(*sync.Mutex).Unlock
}
