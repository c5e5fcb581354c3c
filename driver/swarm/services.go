package swarm

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"berth/driver"
	"berth/driver/internal/engineerr"
	"berth/driver/internal/images"
	"berth/driver/internal/labels"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// A named service is a swarm service: the swarm keeps its replicas running
// and replaces them one at a time (start-first) when the definition changes.

func (d *Driver) CreateService(ctx context.Context, spec *driver.ServiceSpec) (*driver.Service, error) {
	if err := d.ensureNetwork(ctx); err != nil {
		return nil, err
	}
	callCtx, cancel := d.call(ctx)
	defer cancel()
	svc, err := d.namedServiceSpec(callCtx, spec, time.Now(), time.Now())
	if err != nil {
		return nil, err
	}
	if _, err := d.engine.ServiceCreate(callCtx, svc, swarm.ServiceCreateOptions{}); err != nil {
		err = engineerr.Wrap(err, "create service")
		if errors.Is(err, driver.ErrConflict) {
			return nil, fmt.Errorf("%w: name %q is already in use", driver.ErrConflict, spec.Name)
		}
		return nil, err
	}
	return d.GetService(ctx, spec.Name, driver.Filter{})
}

// namedServiceSpec is the swarm service of a named service.
func (d *Driver) namedServiceSpec(ctx context.Context, spec *driver.ServiceSpec, created, updated time.Time) (swarm.ServiceSpec, error) {
	img, err := images.Resolve(ctx, d.engine, spec.Image)
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	replicas := uint64(spec.Replicas)
	ports := make([]driver.Port, len(spec.Ports))
	for i, p := range spec.Ports {
		ports[i] = driver.Port{Container: p, Protocol: "tcp"}
	}
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: spec.Name, Labels: labels.EncodeService(d.opts.Instance, spec, created, updated)},
		TaskTemplate: d.taskTemplate(taskSpec{
			image: img.Pinned, args: spec.Cmd, env: spec.Env, resources: spec.Resources, capAdd: spec.CapAdd,
			labels:  map[string]string{labels.Instance: d.opts.Instance, labels.Kind: labels.KindService, labels.Service: spec.Name},
			restart: swarm.RestartPolicyConditionAny,
		}),
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		EndpointSpec: hostPorts(ports),
		UpdateConfig: &swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStartFirst},
	}, nil
}

func (d *Driver) GetService(ctx context.Context, name string, filter driver.Filter) (*driver.Service, error) {
	found, err := d.listServices(ctx, filter, name)
	if err != nil {
		return nil, err
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("%w: service %q", driver.ErrNotFound, name)
	}
	return found[0].Service, nil
}

func (d *Driver) ListServices(ctx context.Context, filter driver.Filter) ([]*driver.Service, error) {
	found, err := d.listServices(ctx, filter, "")
	if err != nil {
		return nil, err
	}
	out := make([]*driver.Service, len(found))
	for i, s := range found {
		out[i] = s.Service
	}
	return out, nil
}

// namedService is a Service with its swarm service ID.
type namedService struct {
	*driver.Service
	id string
}

// listServices lists named services (one, for a name) in two engine calls:
// the services, then their tasks for the replicas and their ports.
func (d *Driver) listServices(ctx context.Context, filter driver.Filter, name string) ([]namedService, error) {
	var extra []filters.KeyValuePair
	if name != "" {
		extra = append(extra, filters.Arg("label", labels.Name+"="+name))
	}
	services, tasks, err := d.servicesWithTasks(ctx, labels.KindService, filter, extra...)
	if err != nil {
		return nil, err
	}
	out := make([]namedService, 0, len(services))
	for i := range services {
		out = append(out, namedService{fromNamedService(&services[i], tasks[services[i].ID]), services[i].ID})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func fromNamedService(svc *swarm.Service, tasks []swarm.Task) *driver.Service {
	s := labels.DecodeService(svc.Spec.Labels)
	s.Desired = int(replicas(svc))
	if cs := svc.Spec.TaskTemplate.ContainerSpec; cs != nil {
		s.Cmd, s.Env = cs.Args, cs.Env
	}
	if svc.Spec.EndpointSpec != nil {
		for _, p := range svc.Spec.EndpointSpec.Ports {
			s.Ports = append(s.Ports, int(p.TargetPort))
		}
	}
	s.Replicas = []driver.Replica{}
	for _, t := range tasks {
		if t.Status.State != swarm.TaskStateRunning {
			continue
		}
		r := driver.Replica{ID: t.ID, State: driver.StateRunning}
		for _, p := range t.Status.PortStatus.Ports {
			r.Ports = append(r.Ports, driver.Port{Container: int(p.TargetPort), Protocol: string(p.Protocol), Host: int(p.PublishedPort)})
		}
		r.Ports = driver.NormalizePorts(r.Ports)
		s.Replicas = append(s.Replicas, r)
	}
	s.Running = len(s.Replicas)
	return s
}

func (d *Driver) UpdateService(ctx context.Context, name string, spec *driver.ServiceSpec) (*driver.Service, error) {
	err := d.changeService(ctx, name, func(ctx context.Context, s *swarm.ServiceSpec) error {
		current := labels.DecodeService(s.Labels)
		next := *spec
		next.Name, next.Owner, next.Replicas = name, current.Owner, int(*s.Mode.Replicated.Replicas)
		replaced, err := d.namedServiceSpec(ctx, &next, current.CreatedAt, time.Now())
		if err != nil {
			return err
		}
		*s = replaced
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d.GetService(ctx, name, driver.Filter{})
}

func (d *Driver) ScaleService(ctx context.Context, name string, replicas int) (*driver.Service, error) {
	n := uint64(replicas)
	err := d.changeService(ctx, name, func(_ context.Context, s *swarm.ServiceSpec) error {
		s.Mode.Replicated.Replicas = &n
		s.Labels[labels.Updated] = time.Now().UTC().Format(time.RFC3339Nano)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d.GetService(ctx, name, driver.Filter{})
}

func (d *Driver) RemoveService(ctx context.Context, name string) error {
	found, err := d.listServices(ctx, driver.Filter{}, name)
	if err != nil || len(found) == 0 {
		return err
	}
	return d.Remove(ctx, found[0].id)
}

// changeService finds the named service and updates its spec with change.
func (d *Driver) changeService(ctx context.Context, name string, change func(context.Context, *swarm.ServiceSpec) error) error {
	found, err := d.listServices(ctx, driver.Filter{}, name)
	if err != nil {
		return err
	}
	if len(found) != 1 {
		return fmt.Errorf("%w: service %q", driver.ErrNotFound, name)
	}
	return d.update(ctx, found[0].id, labels.KindService, func(s *swarm.ServiceSpec) error { return change(ctx, s) })
}
