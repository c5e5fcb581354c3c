// Package driver defines the orchestrator interface Berth's API is written
// against, the portable types it exchanges, and the sentinel errors every
// implementation returns.
//
// Implementations live in sub-packages (driver/docker for one engine,
// driver/swarm for a swarm) and must pass driver/drivertest against a real
// engine. No Docker client type appears in this package's API.
package driver

import (
	"context"
	"slices"
	"sort"
	"time"
)

// Driver runs Berth containers on an orchestrator.
//
// Every method honours ctx: when it is done the call returns promptly with an
// error wrapping ctx.Err() or ErrUnavailable. Errors are classified by
// wrapping exactly one of the sentinel errors below with %w; an error that
// wraps none of them is an internal failure.
//
// A Driver only ever sees the containers it created for its own instance
// (see the docker and swarm packages' Options): everything else on the engine
// is invisible to it.
type Driver interface {
	// Images returns the references ("repo:tag") of the images available to
	// new containers, sorted. Untagged images are left out.
	Images(ctx context.Context) ([]string, error)

	// Create creates a container from spec, stopped. spec is non-nil and
	// valid (see Spec). The image must already be present: if it is not,
	// Create returns ErrInvalid. If spec.Name is taken, it returns
	// ErrConflict. Nothing is left behind when Create fails.
	Create(ctx context.Context, spec *Spec) (*Container, error)

	// Get returns the container whose ID or name is ref and that matches
	// filter. A container that exists but does not match the filter (another
	// owner's, say) is ErrNotFound, exactly as one that does not exist.
	Get(ctx context.Context, ref string, filter Filter) (*Container, error)

	// List returns the containers that match filter, oldest first. It costs
	// a fixed number of engine calls (one or two), whatever the number of
	// containers.
	List(ctx context.Context, filter Filter) ([]*Container, error)

	// Start starts the container with the given ID and returns it running,
	// with its published ports. Starting a running container is not an
	// error. Start records activity at the time of the start, so that a
	// container is never culled for idleness it had before it started.
	Start(ctx context.Context, id string) (*Container, error)

	// Stop stops the container with the given ID, giving its process grace
	// to exit before it is killed. Stopping a stopped container is not an
	// error. Unknown IDs are ErrNotFound.
	Stop(ctx context.Context, id string, grace time.Duration) error

	// Remove removes the container with the given ID, killing it if it runs,
	// and forgets its activity. Removing a container that does not exist is
	// not an error: Remove is idempotent.
	Remove(ctx context.Context, id string) error

	// RecordActivity stores a check-in for the container with the given ID:
	// Active and CheckedInAt always, LastActivity when a.Active is true.
	// Unknown IDs are ErrNotFound.
	RecordActivity(ctx context.Context, id string, a Activity) error

	Services

	// Close releases the driver's resources. The driver is unusable after.
	Close() error
}

// Services manages named services: a definition and a number of replicas,
// each a container built from the definition. Services and containers are
// separate: a service's replicas never appear among the containers.
type Services interface {
	// CreateService defines a service and starts spec.Replicas replicas of
	// it. A name already in use is ErrConflict; an image the engine does not
	// have is ErrInvalid. Replicas may still be starting when it returns.
	CreateService(ctx context.Context, spec *ServiceSpec) (*Service, error)

	// GetService returns the named service if it matches filter (Owner and
	// Labels), else ErrNotFound.
	GetService(ctx context.Context, name string, filter Filter) (*Service, error)

	// ListServices returns the services that match filter, oldest first, in
	// a fixed number of engine calls.
	ListServices(ctx context.Context, filter Filter) ([]*Service, error)

	// UpdateService replaces the named service's definition (all of spec
	// but Name, Owner and Replicas) and replaces its replicas one by one.
	UpdateService(ctx context.Context, name string, spec *ServiceSpec) (*Service, error)

	// ScaleService sets the number of replicas; they start or stop in the
	// background or before it returns, as the orchestrator works.
	ScaleService(ctx context.Context, name string, replicas int) (*Service, error)

	// RemoveService removes the service and its replicas. Removing a
	// service that does not exist is not an error.
	RemoveService(ctx context.Context, name string) error
}

// HostAddresser is implemented by drivers whose containers can reach the
// host that runs Berth at a known address (the bridge gateway on one engine).
// Berth uses it to build the default check-in URL.
type HostAddresser interface {
	// HostAddress returns the host's IP address as seen from containers.
	HostAddress(ctx context.Context) (string, error)
}

// AddressResolver is implemented by drivers that can tell which container
// owns a network address. It serves the legacy check-in by source IP.
type AddressResolver interface {
	// ContainerByIP returns the one running container with the given IP
	// address on Berth's network, or ErrNotFound if no container, or more
	// than one, has it.
	ContainerByIP(ctx context.Context, ip string) (*Container, error)
}

// Runner is implemented by drivers that can create a container already
// started in one step, cheaper than Create and Start (a swarm: a service
// created with one replica instead of created with none and scaled up).
// Run's contract is Create's followed by Start's; if the container fails to
// start, nothing is left behind.
type Runner interface {
	Run(ctx context.Context, spec *Spec) (*Container, error)
}

// BackgroundStopper is implemented by drivers whose Stop returns as soon as
// the orchestrator has the order, while the process stops in the background
// (a swarm scaling a service to zero). Berth then stops synchronously and
// still answers at once: nothing is left running after the response, which
// matters on Lambda, where a process is frozen once it has answered.
type BackgroundStopper interface {
	StopsInBackground() bool
}

// ServiceConverger is implemented by drivers whose services Berth itself
// keeps at their definition (a swarm does that on its own). The reconcile
// pass calls it.
type ServiceConverger interface {
	ConvergeServices(ctx context.Context) error
}

// LocalStater is implemented by drivers that keep state in the process or on
// local disk. Such a driver cannot serve from many short-lived instances at
// once (Lambda): what one instance records, the others never see.
type LocalStater interface {
	KeepsLocalState() bool
}

// State is the lifecycle state of a container.
type State string

const (
	StateRunning State = "running"
	StateStopped State = "stopped" // created and never started, exited or dead
	StatePaused  State = "paused"
)

// Spec describes a container to create. Fields the driver does not offer do
// not exist: hardening (no privileges, all capabilities dropped but CapAdd,
// no-new-privileges, no host mounts or namespaces, no restart) is not optional.
type Spec struct {
	Name        string            // unique on the engine
	Owner       string            // the principal that owns the container
	Image       string            // a normalized reference, present on the engine
	Env         []string          // "KEY=value", keys unique
	Cmd         []string          // overrides the image's command when non-empty
	Labels      map[string]string // user metadata, returned as given
	IdleTimeout time.Duration     // 0: the API's default applies
	CheckinHash string            // hex SHA-256 of the container's check-in secret
	Resources   Resources
	CapAdd      []string // capabilities added back after dropping all
}

// ServiceSpec describes a service. Its replicas are hardened as containers
// are.
type ServiceSpec struct {
	Name      string
	Owner     string
	Image     string   // a normalized reference, present on the engine
	Cmd       []string // overrides the image's command when non-empty
	Env       []string // "KEY=value"
	Ports     []int    // tcp container ports, each published on a host port per replica
	Replicas  int
	Resources Resources
	CapAdd    []string
}

// Service is the portable view of one service.
type Service struct {
	Name      string
	Owner     string
	Image     string
	Cmd       []string
	Env       []string
	Ports     []int
	Desired   int // replicas asked for
	Running   int // replicas running now
	Replicas  []Replica
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Replica is one running or starting replica of a service.
type Replica struct {
	ID    string
	State State
	Ports []Port
}

// Resources are the limits of one container. Zero means unlimited, which the
// API never asks for.
type Resources struct {
	MemoryBytes int64
	NanoCPUs    int64
	PidsLimit   int64
}

// Filter selects containers. The zero Filter selects all of the instance's.
type Filter struct {
	Owner  string            // "" means any owner
	Labels map[string]string // user labels that must all match exactly
	State  State             // "" means any state
}

// Container is the portable view of one Berth container.
type Container struct {
	ID           string // the engine's ID, stable for the container's life
	Name         string
	Owner        string
	Image        string // the reference it was created from
	State        State
	CreatedAt    time.Time
	LastActivity time.Time // last active check-in, or last start
	CheckedInAt  time.Time // last check-in of any kind; zero if none
	Active       bool      // the last check-in reported active connections
	IdleTimeout  time.Duration
	Ports        []Port            // published ports; empty unless running
	Labels       map[string]string // user metadata
	CheckinHash  string
}

// Port is one published container port.
type Port struct {
	Container int    // port inside the container
	Protocol  string // "tcp" or "udp"
	Host      int    // port on the publish address
}

// Activity is one check-in.
type Activity struct {
	At     time.Time
	Active bool
}

// NormalizePorts sorts ports by container port and protocol and drops
// repeats: engines list a port once per address family.
func NormalizePorts(ports []Port) []Port {
	sort.Slice(ports, func(i, j int) bool {
		if ports[i].Container != ports[j].Container {
			return ports[i].Container < ports[j].Container
		}
		return ports[i].Protocol < ports[j].Protocol
	})
	return slices.CompactFunc(ports, func(a, b Port) bool { return a.Container == b.Container && a.Protocol == b.Protocol })
}
