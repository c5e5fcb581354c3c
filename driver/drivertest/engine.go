package drivertest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"berth/driver/connect"
	"berth/driver/docker"
	"berth/driver/internal/labels"
	"berth/infra/engine"
	"berth/infra/imagebuild"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/kelseyhightower/envconfig"
)

// Engine returns a client for the engine under test (DOCKER_HOST, or the
// local socket) with the demo image built on it. A missing engine fails the
// test: Berth's tests never skip for want of an engine.
func Engine(t testing.TB) *client.Client {
	t.Helper()
	return Connect(t, EngineConfig(t))
}

// EngineConfig is the engine settings of the tests: Berth's own settings
// from the environment (DOCKER_HOST and friends), defaults otherwise.
func EngineConfig(t testing.TB) connect.Config {
	t.Helper()
	var cfg connect.Config
	if err := envconfig.Process("", &cfg); err != nil {
		t.Fatalf("engine settings: %v", err)
	}
	return cfg
}

// Connect returns a client for the engine cfg names, checked to answer, with
// the demo image built on it. It is closed when t ends.
func Connect(t testing.TB, cfg connect.Config) *client.Client {
	t.Helper()
	cli, err := connect.NewClient(cfg)
	if err != nil {
		t.Fatalf("engine client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		t.Fatalf("no Docker engine at %s: %v (Berth's tests need a real engine)", cli.DaemonHost(), err)
	}
	if err := ensureDemo(ctx, cli); err != nil {
		t.Fatalf("demo image on %s: %v", cli.DaemonHost(), err)
	}
	return cli
}

var (
	demoMu    sync.Mutex
	demoBuilt = map[string]bool{} // engine host → demo image checked
)

// ensureDemo builds the demo image once per engine and test binary.
func ensureDemo(ctx context.Context, cli *client.Client) error {
	demoMu.Lock()
	defer demoMu.Unlock()
	if demoBuilt[cli.DaemonHost()] {
		return nil
	}
	if _, err := imagebuild.EnsureDemo(ctx, cli); err != nil {
		return err
	}
	demoBuilt[cli.DaemonHost()] = true
	return nil
}

// DemoImage is the image the suites create containers from: it exposes tcp
// 22 (an SSH-style banner) and 8080 (HTTP) and checks in when told to.
const DemoImage = imagebuild.DemoImage

// Instance returns a run-unique instance name and removes, when the test
// ends, every container, service and network labelled with it, and nothing
// else: test packages run in parallel against the same engine.
func Instance(t testing.TB, cli *client.Client) string {
	t.Helper()
	b := make([]byte, 5)
	rand.Read(b)
	name := "test-" + strings.ToLower(strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()))
	if len(name) > 30 {
		name = name[:30]
	}
	instance := name + "-" + hex.EncodeToString(b)
	t.Cleanup(func() { Sweep(t, cli, instance) })
	return instance
}

// Sweep removes everything labelled with instance: services first, then
// containers (their tasks' too, without waiting for the swarm to reap them),
// then networks.
func Sweep(t testing.TB, cli *client.Client, instance string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := filters.NewArgs(filters.Arg("label", labels.Instance+"="+instance))
	services, err := cli.ServiceList(ctx, swarm.ServiceListOptions{Filters: args})
	if err != nil && !strings.Contains(err.Error(), "not a swarm manager") {
		t.Errorf("sweep %s services: %v", instance, err)
	}
	for _, svc := range services {
		if err := cli.ServiceRemove(ctx, svc.ID); err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("sweep service %s: %v", svc.Spec.Name, err)
		}
	}
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
	if err != nil {
		t.Errorf("sweep %s: %v", instance, err)
		return
	}
	for _, c := range cs {
		if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("sweep container %s: %v", c.ID, err)
		}
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: args})
	if err != nil {
		t.Errorf("sweep %s networks: %v", instance, err)
		return
	}
	for _, n := range ns {
		// A network frees up a moment after its last container is gone.
		for try := 0; ; try++ {
			err := cli.NetworkRemove(ctx, n.ID)
			if err == nil || cerrdefs.IsNotFound(err) {
				break
			}
			if try == 50 {
				t.Errorf("sweep network %s: %v", n.Name, err)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// Snapshot describes instance's containers and services as the engine has
// them (IDs, states, names, versions), for tests that check a request
// changed nothing.
func Snapshot(t testing.TB, cli *client.Client, instance string) string {
	t.Helper()
	list, err := cli.ContainerList(context.Background(), container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", labels.Instance+"="+instance)),
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range list {
		out = append(out, c.ID[:12]+"/"+string(c.State)+"/"+strings.Join(c.Names, ","))
	}
	services, err := cli.ServiceList(context.Background(), swarm.ServiceListOptions{Filters: filters.NewArgs(filters.Arg("label", labels.Instance+"="+instance))})
	if err != nil && !strings.Contains(err.Error(), "not a swarm manager") {
		t.Fatal(err)
	}
	for _, svc := range services { // a change to a service's spec changes its version
		out = append(out, fmt.Sprintf("service %s/%s/v%d", svc.ID, svc.Spec.Name, svc.Version.Index))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// HoldConnection opens a connection to the demo app once it answers: a
// connection made before the app listens is dropped by the port proxy.
func HoldConnection(t testing.TB, addr string) net.Conn {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: demo\r\n\r\n")
			conn.SetReadDeadline(time.Now().Add(time.Second))
			line, err := bufio.NewReader(conn).ReadString('\n')
			conn.SetReadDeadline(time.Time{})
			if err == nil && strings.HasPrefix(line, "HTTP/1.1 200") {
				return conn // kept alive by HTTP/1.1
			}
			conn.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo app at %s never answered: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// DockerDriver returns a docker driver on engine for instance, the way the
// tests use it: network "berth-<instance>", ports on 127.0.0.1, activity in
// a temporary file. It is closed when t ends.
func DockerDriver(t testing.TB, engine docker.Engine, instance string) *docker.Driver {
	t.Helper()
	d, err := docker.New(engine, docker.Options{
		Instance:  instance,
		Network:   "berth-" + instance,
		PublishIP: "127.0.0.1",
		StateFile: filepath.Join(t.TempDir(), "state.db"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// PrivateEngine is a private engine (see infra/engine) that a test binary
// starts on first use and stops when its tests are over: a binary whose
// selected tests need none — a fuzz worker, a -run that picks unit tests —
// starts none, and so can leave none behind when it is killed.
type PrivateEngine struct {
	Options engine.Options // Dir is chosen here

	once sync.Once
	e    *engine.Engine
	err  error
}

// Get returns the engine, starting it on the first call.
func (p *PrivateEngine) Get(t testing.TB) *engine.Engine {
	t.Helper()
	p.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		dir, err := os.MkdirTemp("", "be-")
		if err != nil {
			p.err = err
			return
		}
		os.Remove(dir) // engine.Start makes it
		opts := p.Options
		opts.Dir = dir
		p.e, p.err = engine.Start(ctx, opts)
	})
	if p.err != nil {
		t.Fatalf("private engine: %v", p.err)
	}
	return p.e
}

// Run runs the tests, then stops the engine if they started it. Call it
// from TestMain: os.Exit(private.Run(m)).
func (p *PrivateEngine) Run(m *testing.M) int {
	code := m.Run()
	if p.e != nil {
		if err := p.e.Stop(context.Background()); err != nil {
			fmt.Fprintf(os.Stderr, "stop private engine: %v\n", err)
			code = 1
		}
	}
	return code
}
