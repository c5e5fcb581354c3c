// Package swarm is Berth's driver for a Docker Swarm. A Berth container is a
// single-replica service (stopped: 0 replicas, running: 1), as JupyterHub's
// SwarmSpawner does. Everything Berth knows about it, activity included,
// lives in the service's labels: the driver keeps no state of its own, so
// any number of stateless processes (Lambda) can drive one swarm at once.
// Label updates carry the service's version and are retried on conflict.
package swarm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"berth/driver"
	"berth/driver/internal/engineerr"
	"berth/driver/internal/images"
	"berth/driver/internal/labels"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
)

// Engine is the subset of the Docker client the driver uses.
type Engine interface {
	images.Engine
	ServiceCreate(ctx context.Context, service swarm.ServiceSpec, options swarm.ServiceCreateOptions) (swarm.ServiceCreateResponse, error)
	ServiceInspectWithRaw(ctx context.Context, serviceID string, options swarm.ServiceInspectOptions) (swarm.Service, []byte, error)
	ServiceList(ctx context.Context, options swarm.ServiceListOptions) ([]swarm.Service, error)
	ServiceUpdate(ctx context.Context, serviceID string, version swarm.Version, service swarm.ServiceSpec, options swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error)
	ServiceRemove(ctx context.Context, serviceID string) error
	TaskList(ctx context.Context, options swarm.TaskListOptions) ([]swarm.Task, error)
	NetworkInspect(ctx context.Context, network string, options network.InspectOptions) (network.Inspect, error)
	NetworkCreate(ctx context.Context, name string, options network.CreateOptions) (network.CreateResponse, error)
}

// Options configure a Driver.
type Options struct {
	// Instance names this Berth installation; the driver sees only
	// services labelled with it. Required.
	Instance string
	// Network is the swarm-scoped bridge network tasks join, created with
	// inter-container traffic disabled if it does not exist. Required.
	Network string
	// CallTimeout bounds every engine call.
	CallTimeout time.Duration
	// StartTimeout bounds how long Start waits for the task to run.
	StartTimeout time.Duration
}

// Driver implements driver.Driver on a swarm manager.
type Driver struct {
	engine Engine
	opts   Options

	netMu    sync.Mutex
	netReady bool
}

var _ driver.Driver = (*Driver)(nil)

// New returns a driver for engine (a swarm manager), which it owns from then
// on. It makes no engine call.
func New(engine Engine, opts Options) (*Driver, error) {
	if opts.Instance == "" || opts.Network == "" {
		return nil, errors.New("swarm driver: Instance and Network are required")
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 20 * time.Second
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = time.Minute
	}
	return &Driver{engine: engine, opts: opts}, nil
}

func (d *Driver) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.opts.CallTimeout)
}

func (d *Driver) Images(ctx context.Context) ([]string, error) {
	ctx, cancel := d.call(ctx)
	defer cancel()
	return images.Tags(ctx, d.engine)
}

var _ driver.Runner = (*Driver)(nil)
var _ driver.BackgroundStopper = (*Driver)(nil)

func (d *Driver) Create(ctx context.Context, spec *driver.Spec) (*driver.Container, error) {
	return d.create(ctx, spec, 0)
}

// Run creates the container's service with its one replica asked for at
// once, and waits for it to run.
func (d *Driver) Run(ctx context.Context, spec *driver.Spec) (*driver.Container, error) {
	c, err := d.create(ctx, spec, 1)
	if err != nil {
		return nil, err
	}
	running, err := d.waitRunning(ctx, c.ID)
	if err != nil {
		d.Remove(context.WithoutCancel(ctx), c.ID)
		return nil, err
	}
	return running, nil
}

func (d *Driver) create(ctx context.Context, spec *driver.Spec, replicas uint64) (*driver.Container, error) {
	if err := d.ensureNetwork(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := d.call(ctx)
	defer cancel()
	img, err := images.Resolve(ctx, d.engine, spec.Image)
	if err != nil {
		return nil, err
	}
	created := time.Now().UTC()
	svc := d.serviceSpec(spec, img, created)
	svc.Mode.Replicated.Replicas = &replicas
	if replicas > 0 {
		labels.RecordStart(svc.Labels, created)
	}
	resp, err := d.engine.ServiceCreate(ctx, svc, swarm.ServiceCreateOptions{})
	if err != nil {
		err = engineerr.Wrap(err, "create service")
		if errors.Is(err, driver.ErrConflict) {
			return nil, fmt.Errorf("%w: name %q is already in use", driver.ErrConflict, spec.Name)
		}
		return nil, err
	}
	c := labels.Decode(svc.Labels)
	c.ID, c.State = resp.ID, driver.StateStopped
	return c, nil
}

// serviceSpec is the service of a Berth container: one replica at most,
// never restarted (a container that exits is stopped).
func (d *Driver) serviceSpec(spec *driver.Spec, img images.Resolved, created time.Time) swarm.ServiceSpec {
	zero := uint64(0)
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: spec.Name, Labels: labels.Encode(d.opts.Instance, spec, created)},
		TaskTemplate: d.taskTemplate(taskSpec{
			image: img.Pinned, args: spec.Cmd, env: spec.Env, resources: spec.Resources, capAdd: spec.CapAdd,
			labels:  map[string]string{labels.Instance: d.opts.Instance, labels.Kind: labels.KindContainer, labels.Name: spec.Name},
			restart: swarm.RestartPolicyConditionNone,
		}),
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &zero}},
		EndpointSpec: hostPorts(img.Exposed),
	}
}

// taskSpec is what differs between the tasks of containers and services.
type taskSpec struct {
	image     string
	args, env []string
	resources driver.Resources
	capAdd    []string
	labels    map[string]string
	restart   swarm.RestartPolicyCondition
}

// taskTemplate is the task of every service Berth creates, hardened as far
// as the swarm allows. No-new-privileges is a daemon setting on engines
// before API 1.46 (dockerd --no-new-privileges); newer engines also take it
// from the spec.
func (d *Driver) taskTemplate(t taskSpec) swarm.TaskSpec {
	return swarm.TaskSpec{
		ContainerSpec: &swarm.ContainerSpec{
			Image:          t.image,
			Labels:         t.labels,
			Args:           t.args,
			Env:            t.env,
			CapabilityDrop: []string{"ALL"},
			CapabilityAdd:  t.capAdd,
			Privileges:     &swarm.Privileges{NoNewPrivileges: true},
		},
		Resources: &swarm.ResourceRequirements{Limits: &swarm.Limit{
			NanoCPUs:    t.resources.NanoCPUs,
			MemoryBytes: t.resources.MemoryBytes,
			Pids:        t.resources.PidsLimit,
		}},
		RestartPolicy: &swarm.RestartPolicy{Condition: t.restart},
		Networks:      []swarm.NetworkAttachmentConfig{{Target: d.opts.Network}},
	}
}

// hostPorts publishes ports in host mode, each on a port the node picks:
// the ingress routing mesh needs IPVS, which single-node and minimal
// kernels often lack, and host mode costs no extra hop.
func hostPorts(ports []driver.Port) *swarm.EndpointSpec {
	var out []swarm.PortConfig
	for _, p := range ports {
		out = append(out, swarm.PortConfig{
			Protocol:    swarm.PortConfigProtocol(p.Protocol),
			TargetPort:  uint32(p.Container),
			PublishMode: swarm.PortConfigPublishModeHost,
		})
	}
	return &swarm.EndpointSpec{Ports: out}
}

// serviceID: swarm object IDs are 25 lowercase letters and digits.
var serviceID = regexp.MustCompile(`^[a-z0-9]{25}$`)

func (d *Driver) Get(ctx context.Context, ref string, filter driver.Filter) (*driver.Container, error) {
	var found []*driver.Container
	var err error
	if serviceID.MatchString(ref) {
		if found, err = d.list(ctx, filter, filters.Arg("id", ref)); err != nil {
			return nil, err
		}
		// The id filter matches prefixes; only an exact ID counts.
		found = keep(found, func(c *driver.Container) bool { return c.ID == ref })
	}
	if len(found) == 0 {
		if found, err = d.list(ctx, filter, filters.Arg("label", labels.Name+"="+ref)); err != nil {
			return nil, err
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("%w: container %q", driver.ErrNotFound, ref)
	}
	return found[0], nil
}

func (d *Driver) List(ctx context.Context, filter driver.Filter) ([]*driver.Container, error) {
	return d.list(ctx, filter)
}

// list is the two engine calls behind Get and List: the services, then the
// tasks that tell which of them run and on which ports.
func (d *Driver) list(ctx context.Context, filter driver.Filter, extra ...filters.KeyValuePair) ([]*driver.Container, error) {
	services, tasks, err := d.servicesWithTasks(ctx, labels.KindContainer, filter, extra...)
	if err != nil {
		return nil, err
	}
	out := make([]*driver.Container, 0, len(services))
	for i := range services {
		c := fromService(&services[i], tasks[services[i].ID])
		if filter.State == "" || c.State == filter.State {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// servicesWithTasks lists the instance's services of kind that match filter
// and extra, with their tasks that should be running, by service ID: two
// engine calls whatever the number of services.
func (d *Driver) servicesWithTasks(ctx context.Context, kind string, filter driver.Filter, extra ...filters.KeyValuePair) ([]swarm.Service, map[string][]swarm.Task, error) {
	ctx, cancel := d.call(ctx)
	defer cancel()
	args := filters.NewArgs(extra...)
	for _, s := range labels.Selectors(d.opts.Instance, kind, filter) {
		args.Add("label", s)
	}
	services, err := d.engine.ServiceList(ctx, swarm.ServiceListOptions{Filters: args})
	if err != nil || len(services) == 0 {
		return nil, nil, engineerr.Wrap(err, "list services")
	}
	taskArgs := filters.NewArgs(filters.Arg("desired-state", "running"))
	if len(services) == 1 {
		taskArgs.Add("service", services[0].ID)
	}
	tasks, err := d.engine.TaskList(ctx, swarm.TaskListOptions{Filters: taskArgs})
	if err != nil {
		return nil, nil, engineerr.Wrap(err, "list tasks")
	}
	byService := map[string][]swarm.Task{}
	for _, t := range tasks {
		byService[t.ServiceID] = append(byService[t.ServiceID], t)
	}
	return services, byService, nil
}

// fromService builds the container of svc from its labels and its tasks
// that should be running: running if one runs (or is starting), with the
// ports it published; stopped when none does.
func fromService(svc *swarm.Service, tasks []swarm.Task) *driver.Container {
	c := labels.Decode(svc.Spec.Labels)
	c.ID, c.State = svc.ID, driver.StateStopped
	if replicas(svc) == 0 {
		return c
	}
	for _, t := range tasks {
		if !live(t.Status.State) {
			continue
		}
		c.State = driver.StateRunning
		for _, p := range t.Status.PortStatus.Ports {
			if p.PublishedPort != 0 {
				c.Ports = append(c.Ports, driver.Port{Container: int(p.TargetPort), Protocol: string(p.Protocol), Host: int(p.PublishedPort)})
			}
		}
		c.Ports = driver.NormalizePorts(c.Ports)
		break
	}
	return c
}

// live reports whether a task in state s is running or on its way there.
func live(s swarm.TaskState) bool {
	switch s {
	case swarm.TaskStateNew, swarm.TaskStateAllocated, swarm.TaskStatePending, swarm.TaskStateAssigned,
		swarm.TaskStateAccepted, swarm.TaskStatePreparing, swarm.TaskStateReady, swarm.TaskStateStarting,
		swarm.TaskStateRunning:
		return true
	}
	return false
}

func replicas(svc *swarm.Service) uint64 {
	if svc.Spec.Mode.Replicated == nil || svc.Spec.Mode.Replicated.Replicas == nil {
		return 0
	}
	return *svc.Spec.Mode.Replicated.Replicas
}

func (d *Driver) Start(ctx context.Context, id string) (*driver.Container, error) {
	one := uint64(1)
	err := d.update(ctx, id, labels.KindContainer, func(s *swarm.ServiceSpec) error {
		s.Mode.Replicated.Replicas = &one
		labels.RecordStart(s.Labels, time.Now())
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d.waitRunning(ctx, id)
}

// pollInterval is how often Start looks at a starting task: a task takes
// hundreds of milliseconds to start, and a look costs two cheap calls.
const pollInterval = 20 * time.Millisecond

// waitRunning polls until the service's task runs with its ports published,
// or fails, or StartTimeout passes.
func (d *Driver) waitRunning(ctx context.Context, id string) (*driver.Container, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.StartTimeout)
	defer cancel()
	for {
		svc, _, err := d.engine.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
		if err != nil {
			return nil, engineerr.Wrap(err, "inspect service")
		}
		tasks, err := d.engine.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
			filters.Arg("service", id), filters.Arg("desired-state", "running"))})
		if err != nil {
			return nil, engineerr.Wrap(err, "list tasks")
		}
		for _, t := range tasks {
			switch {
			case t.Status.State == swarm.TaskStateRunning:
				return fromService(&svc, []swarm.Task{t}), nil
			case !live(t.Status.State):
				return nil, fmt.Errorf("%w: task %s: %s %s", driver.ErrInvalid, t.Status.State, t.Status.Message, t.Status.Err)
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: service %s did not start: %w", driver.ErrUnavailable, id, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// StopsInBackground: Stop scales the service to zero and returns; the swarm
// stops the task, with its grace, on its own (driver.BackgroundStopper).
func (d *Driver) StopsInBackground() bool { return true }

func (d *Driver) Stop(ctx context.Context, id string, grace time.Duration) error {
	zero := uint64(0)
	return d.update(ctx, id, labels.KindContainer, func(s *swarm.ServiceSpec) error {
		s.Mode.Replicated.Replicas = &zero
		s.TaskTemplate.ContainerSpec.StopGracePeriod = &grace
		return nil
	})
}

func (d *Driver) Remove(ctx context.Context, id string) error {
	ctx, cancel := d.call(ctx)
	defer cancel()
	err := engineerr.Wrap(d.engine.ServiceRemove(ctx, id), "remove service")
	if errors.Is(err, driver.ErrNotFound) {
		return nil
	}
	return err
}

func (d *Driver) RecordActivity(ctx context.Context, id string, a driver.Activity) error {
	return d.update(ctx, id, labels.KindContainer, func(s *swarm.ServiceSpec) error {
		labels.RecordActivity(s.Labels, a)
		return nil
	})
}

// update applies change to the service's spec with compare-and-swap on its
// version, retrying when another writer got there first.
func (d *Driver) update(ctx context.Context, id, kind string, change func(*swarm.ServiceSpec) error) error {
	ctx, cancel := d.call(ctx)
	defer cancel()
	for attempt := 0; ; attempt++ {
		svc, _, err := d.engine.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
		if err != nil {
			return engineerr.Wrap(err, "inspect service")
		}
		if svc.Spec.Labels[labels.Instance] != d.opts.Instance || svc.Spec.Labels[labels.Kind] != kind || svc.Spec.Mode.Replicated == nil {
			return fmt.Errorf("%w: %s %q", driver.ErrNotFound, kind, id)
		}
		spec := svc.Spec
		spec.Labels = cloneMap(spec.Labels)
		if err := change(&spec); err != nil {
			return err
		}
		_, err = d.engine.ServiceUpdate(ctx, svc.ID, svc.Version, spec, swarm.ServiceUpdateOptions{})
		if err == nil {
			return nil
		}
		if !outOfSequence(err) || attempt >= 20 {
			return engineerr.Wrap(err, "update service")
		}
		select { // back off a little, jittered, so racing writers spread out
		case <-ctx.Done():
			return engineerr.Wrap(ctx.Err(), "update service")
		case <-time.After(time.Duration(rand.IntN(5*(attempt+1))+1) * time.Millisecond):
		}
	}
}

// outOfSequence reports the swarm's compare-and-swap failure: the version
// an update carried is no longer the service's.
func outOfSequence(err error) bool {
	return err != nil && strings.Contains(err.Error(), "update out of sequence")
}

// ensureNetwork makes sure the tasks' network exists: a swarm-scoped bridge
// with inter-container traffic off. It calls the engine until it succeeds once.
func (d *Driver) ensureNetwork(ctx context.Context) error {
	d.netMu.Lock()
	defer d.netMu.Unlock()
	if d.netReady {
		return nil
	}
	ctx, cancel := d.call(ctx)
	defer cancel()
	_, err := d.engine.NetworkInspect(ctx, d.opts.Network, network.InspectOptions{})
	if err = engineerr.Wrap(err, "inspect network"); errors.Is(err, driver.ErrNotFound) {
		_, err = d.engine.NetworkCreate(ctx, d.opts.Network, network.CreateOptions{
			Driver:  "bridge",
			Scope:   "swarm",
			Options: map[string]string{"com.docker.network.bridge.enable_icc": "false"},
			Labels:  map[string]string{labels.Instance: d.opts.Instance},
		})
		err = engineerr.Wrap(err, "create network "+d.opts.Network)
	}
	d.netReady = err == nil
	return err
}

// Close closes the engine client, which the driver owns.
func (d *Driver) Close() error {
	if c, ok := d.engine.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func keep(cs []*driver.Container, f func(*driver.Container) bool) []*driver.Container {
	out := cs[:0]
	for _, c := range cs {
		if f(c) {
			out = append(out, c)
		}
	}
	return out
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+3)
	for k, v := range m {
		out[k] = v
	}
	return out
}
