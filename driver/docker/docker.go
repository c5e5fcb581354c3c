// Package docker is Berth's driver for one Docker engine: a Berth container
// is an engine container and its facts are labels; what labels cannot hold,
// because they never change (activity, service definitions), is kept beside
// the driver (see state.go).
package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"berth/driver"
	"berth/driver/internal/engineerr"
	"berth/driver/internal/images"
	"berth/driver/internal/labels"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Engine is the subset of the Docker client the driver uses.
type Engine interface {
	images.Engine
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerStart(ctx context.Context, container string, options container.StartOptions) error
	ContainerStop(ctx context.Context, container string, options container.StopOptions) error
	ContainerRemove(ctx context.Context, container string, options container.RemoveOptions) error
	NetworkInspect(ctx context.Context, network string, options network.InspectOptions) (network.Inspect, error)
	NetworkCreate(ctx context.Context, name string, options network.CreateOptions) (network.CreateResponse, error)
}

// Options configure a Driver.
type Options struct {
	// Instance names this Berth installation; the driver sees only
	// containers labelled with it. Required.
	Instance string
	// Network is the bridge network containers join. It is created, with
	// inter-container traffic disabled, if it does not exist. Required.
	Network string
	// PublishIP is the host address container ports are published on.
	PublishIP string
	// CallTimeout bounds every engine call (a stop gets its grace on top).
	CallTimeout time.Duration
	// StateFile is where containers' activity and services' definitions
	// persist; "" keeps them in memory only, lost when the process ends.
	StateFile string
}

// Driver implements driver.Driver on one Docker engine.
type Driver struct {
	engine Engine
	opts   Options
	state  *state

	netMu   sync.Mutex
	gateway string // the network's gateway once it is known to exist

	serviceLocks sync.Map // service name → *sync.Mutex
}

var _ driver.Driver = (*Driver)(nil)
var _ driver.HostAddresser = (*Driver)(nil)
var _ driver.AddressResolver = (*Driver)(nil)
var _ driver.LocalStater = (*Driver)(nil)

// New returns a driver for engine, which it owns from then on. It makes no
// engine call.
func New(engine Engine, opts Options) (*Driver, error) {
	if opts.Instance == "" || opts.Network == "" {
		return nil, errors.New("docker driver: Instance and Network are required")
	}
	if _, err := netip.ParseAddr(opts.PublishIP); err != nil {
		return nil, fmt.Errorf("docker driver: publish IP: %w", err)
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 20 * time.Second
	}
	store, err := openState(opts.StateFile)
	if err != nil {
		return nil, err
	}
	return &Driver{engine: engine, opts: opts, state: store}, nil
}

// KeepsLocalState reports that this driver's activity records live in the
// process or on local disk: true for every docker driver (driver.LocalStater).
func (d *Driver) KeepsLocalState() bool { return true }

func (d *Driver) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.opts.CallTimeout)
}

func (d *Driver) Images(ctx context.Context) ([]string, error) {
	ctx, cancel := d.call(ctx)
	defer cancel()
	return images.Tags(ctx, d.engine)
}

func (d *Driver) Create(ctx context.Context, spec *driver.Spec) (*driver.Container, error) {
	if err := d.ensureNetwork(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := d.call(ctx)
	defer cancel()
	img, err := images.Resolve(ctx, d.engine, spec.Image)
	if err != nil {
		return nil, err
	}
	bindings := nat.PortMap{}
	for _, p := range img.Exposed {
		bindings[nat.Port(fmt.Sprintf("%d/%s", p.Container, p.Protocol))] = []nat.PortBinding{{HostIP: d.opts.PublishIP}}
	}
	created := time.Now().UTC()
	config := &container.Config{
		Image:  spec.Image,
		Env:    spec.Env,
		Cmd:    spec.Cmd,
		Labels: labels.Encode(d.opts.Instance, spec, created),
	}
	resp, err := d.engine.ContainerCreate(ctx, config, d.hardened(spec.Resources, spec.CapAdd, bindings), nil, nil, spec.Name)
	if err != nil {
		err = engineerr.Wrap(err, "create container")
		if errors.Is(err, driver.ErrConflict) {
			return nil, fmt.Errorf("%w: name %q is already in use", driver.ErrConflict, spec.Name)
		}
		return nil, err
	}
	c := labels.Decode(config.Labels)
	c.ID, c.State = resp.ID, driver.StateStopped
	return c, nil
}

// hardened is the host configuration of every container Berth creates.
// Nothing a request carries can loosen it.
func (d *Driver) hardened(res driver.Resources, capAdd []string, ports nat.PortMap) *container.HostConfig {
	pids := res.PidsLimit
	return &container.HostConfig{
		NetworkMode:    container.NetworkMode(d.opts.Network),
		PortBindings:   ports,
		RestartPolicy:  container.RestartPolicy{Name: container.RestartPolicyDisabled},
		Privileged:     false,
		CapDrop:        []string{"ALL"},
		CapAdd:         capAdd,
		SecurityOpt:    []string{"no-new-privileges:true"},
		IpcMode:        container.IPCModePrivate,
		ReadonlyRootfs: false,
		Resources: container.Resources{
			Memory:     res.MemoryBytes,
			MemorySwap: res.MemoryBytes, // no swap beyond the memory limit
			NanoCPUs:   res.NanoCPUs,
			PidsLimit:  &pids,
		},
	}
}

var engineID = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (d *Driver) Get(ctx context.Context, ref string, filter driver.Filter) (*driver.Container, error) {
	args := d.filters(filter)
	if engineID.MatchString(ref) {
		args.Add("id", ref)
	} else {
		args.Add("label", labels.Name+"="+ref)
	}
	found, err := d.list(ctx, args)
	if err != nil {
		return nil, err
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("%w: container %q", driver.ErrNotFound, ref)
	}
	return found[0], nil
}

func (d *Driver) List(ctx context.Context, filter driver.Filter) ([]*driver.Container, error) {
	began := time.Now()
	found, err := d.list(ctx, d.filters(filter))
	if err != nil {
		return nil, err
	}
	if filter.Owner == "" && len(filter.Labels) == 0 && filter.State == "" {
		// A full listing shows which activity records outlived their containers.
		live := make(map[string]bool, len(found))
		for _, c := range found {
			live[c.ID] = true
		}
		if stale := d.state.staleActivity(live, began); len(stale) > 0 {
			d.state.forgetActivity(stale...)
		}
	}
	return found, nil
}

// filters returns the engine filter for f within the driver's instance.
func (d *Driver) filters(f driver.Filter) filters.Args {
	args := filters.NewArgs()
	for _, s := range labels.Selectors(d.opts.Instance, labels.KindContainer, f) {
		args.Add("label", s)
	}
	switch f.State {
	case driver.StateRunning:
		args.Add("status", "running")
	case driver.StateStopped:
		args.Add("status", "created")
		args.Add("status", "exited")
		args.Add("status", "dead")
	case driver.StatePaused:
		args.Add("status", "paused")
	}
	return args
}

// list is the one engine call behind Get and List.
func (d *Driver) list(ctx context.Context, args filters.Args) ([]*driver.Container, error) {
	ctx, cancel := d.call(ctx)
	defer cancel()
	summaries, err := d.engine.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
	if err != nil {
		return nil, engineerr.Wrap(err, "list containers")
	}
	out := make([]*driver.Container, 0, len(summaries))
	for i := range summaries {
		out = append(out, d.fromSummary(&summaries[i]))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (d *Driver) fromSummary(s *container.Summary) *driver.Container {
	c := labels.Decode(s.Labels)
	c.ID = s.ID
	c.State = stateOf(string(s.State))
	if c.State == driver.StateRunning {
		c.Ports = publishedPorts(s)
	}
	a := d.state.getActivity(s.ID)
	c.LastActivity, c.CheckedInAt, c.Active = a.LastActivity, a.CheckedInAt, a.Active
	return c
}

// publishedPorts are the ports a running container publishes.
func publishedPorts(s *container.Summary) []driver.Port {
	var ports []driver.Port
	for _, p := range s.Ports {
		if p.PublicPort != 0 {
			ports = append(ports, driver.Port{Container: int(p.PrivatePort), Protocol: p.Type, Host: int(p.PublicPort)})
		}
	}
	return driver.NormalizePorts(ports)
}

func stateOf(engineState string) driver.State {
	switch engineState {
	case "running", "restarting":
		return driver.StateRunning
	case "paused":
		return driver.StatePaused
	default: // created, exited, dead, removing
		return driver.StateStopped
	}
}

func (d *Driver) Start(ctx context.Context, id string) (*driver.Container, error) {
	callCtx, cancel := d.call(ctx)
	err := d.engine.ContainerStart(callCtx, id, container.StartOptions{})
	cancel()
	if err != nil {
		return nil, engineerr.Wrap(err, "start container")
	}
	now := time.Now().UTC()
	if err := d.state.updateActivity(id, func(a *activity) { a.LastActivity, a.Active = now, false }); err != nil {
		return nil, fmt.Errorf("record start: %w", err)
	}
	return d.Get(ctx, id, driver.Filter{})
}

func (d *Driver) Stop(ctx context.Context, id string, grace time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, grace+d.opts.CallTimeout)
	defer cancel()
	secs := int((grace + time.Second - 1) / time.Second)
	return engineerr.Wrap(d.engine.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs}), "stop container")
}

func (d *Driver) Remove(ctx context.Context, id string) error {
	ctx, cancel := d.call(ctx)
	defer cancel()
	err := engineerr.Wrap(d.engine.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}), "remove container")
	if errors.Is(err, driver.ErrNotFound) || (errors.Is(err, driver.ErrConflict) && strings.Contains(err.Error(), "already in progress")) {
		err = nil
	}
	if err != nil {
		return err
	}
	return d.state.forgetActivity(id)
}

func (d *Driver) RecordActivity(ctx context.Context, id string, a driver.Activity) error {
	return d.state.updateActivity(id, func(rec *activity) {
		rec.CheckedInAt, rec.Active = a.At, a.Active
		if a.Active {
			rec.LastActivity = a.At
		}
	})
}

// HostAddress returns the gateway of the driver's network: the host as its
// containers reach it.
func (d *Driver) HostAddress(ctx context.Context) (string, error) {
	if err := d.ensureNetwork(ctx); err != nil {
		return "", err
	}
	d.netMu.Lock()
	defer d.netMu.Unlock()
	return d.gateway, nil
}

// ensureNetwork makes sure the containers' network exists and learns its
// gateway; it calls the engine only until it has succeeded once.
func (d *Driver) ensureNetwork(ctx context.Context) error {
	d.netMu.Lock()
	defer d.netMu.Unlock()
	if d.gateway != "" {
		return nil
	}
	ctx, cancel := d.call(ctx)
	defer cancel()
	n, err := d.engine.NetworkInspect(ctx, d.opts.Network, network.InspectOptions{})
	if err != nil {
		if err = engineerr.Wrap(err, "inspect network"); !errors.Is(err, driver.ErrNotFound) {
			return err
		}
		_, err = d.engine.NetworkCreate(ctx, d.opts.Network, network.CreateOptions{
			Driver:  "bridge",
			Options: map[string]string{"com.docker.network.bridge.enable_icc": "false"},
			Labels:  map[string]string{labels.Instance: d.opts.Instance},
		})
		if err != nil {
			return engineerr.Wrap(err, "create network "+d.opts.Network)
		}
		if n, err = d.engine.NetworkInspect(ctx, d.opts.Network, network.InspectOptions{}); err != nil {
			return engineerr.Wrap(err, "inspect network")
		}
	}
	for _, c := range n.IPAM.Config {
		if addr, err := netip.ParseAddr(c.Gateway); err == nil && addr.Is4() {
			d.gateway = c.Gateway
			return nil
		}
	}
	return fmt.Errorf("network %s has no IPv4 gateway", d.opts.Network)
}

func (d *Driver) ContainerByIP(ctx context.Context, ip string) (*driver.Container, error) {
	args := d.filters(driver.Filter{State: driver.StateRunning})
	ctx, cancel := d.call(ctx)
	defer cancel()
	summaries, err := d.engine.ContainerList(ctx, container.ListOptions{Filters: args})
	if err != nil {
		return nil, engineerr.Wrap(err, "list containers")
	}
	var match *driver.Container
	for i := range summaries {
		s := &summaries[i]
		if s.NetworkSettings == nil {
			continue
		}
		if n := s.NetworkSettings.Networks[d.opts.Network]; n != nil && n.IPAddress == ip {
			if match != nil {
				return nil, fmt.Errorf("%w: address %s is shared", driver.ErrNotFound, ip)
			}
			match = d.fromSummary(s)
		}
	}
	if match == nil {
		return nil, fmt.Errorf("%w: no container at %s", driver.ErrNotFound, ip)
	}
	return match, nil
}

// Close closes the activity file and the engine client, which the driver owns.
func (d *Driver) Close() error {
	err := d.state.close()
	if c, ok := d.engine.(io.Closer); ok {
		err = errors.Join(err, c.Close())
	}
	return err
}
