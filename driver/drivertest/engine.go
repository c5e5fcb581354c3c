package drivertest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"berth/driver/connect"
	"berth/driver/docker"
	"berth/driver/internal/labels"
	"berth/infra/imagebuild"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/kelseyhightower/envconfig"
)

// Engine returns a client for the engine under test (DOCKER_HOST, or the
// local socket) with the demo image built on it. A missing engine fails the
// test: Berth's tests never skip for want of an engine.
func Engine(t testing.TB) *client.Client {
	t.Helper()
	cli, err := connect.NewClient(EngineConfig(t))
	if err != nil {
		t.Fatalf("engine client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		t.Fatalf("no Docker engine at %s: %v (Berth's tests need a real engine)", cli.DaemonHost(), err)
	}
	demoOnce.Do(func() { demoErr = ensureDemo(ctx, cli) })
	if demoErr != nil {
		t.Fatalf("demo image: %v", demoErr)
	}
	return cli
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

var (
	demoOnce sync.Once
	demoErr  error
)

func ensureDemo(ctx context.Context, cli *client.Client) error {
	_, err := imagebuild.EnsureDemo(ctx, cli)
	return err
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

// Sweep removes everything labelled with instance.
func Sweep(t testing.TB, cli *client.Client, instance string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := filters.NewArgs(filters.Arg("label", labels.Instance+"="+instance))
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
	if err != nil {
		t.Errorf("sweep %s: %v", instance, err)
		return
	}
	for _, c := range cs {
		if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !client.IsErrNotFound(err) {
			t.Errorf("sweep container %s: %v", c.ID, err)
		}
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: args})
	if err != nil {
		t.Errorf("sweep %s networks: %v", instance, err)
		return
	}
	for _, n := range ns {
		if err := cli.NetworkRemove(ctx, n.ID); err != nil && !client.IsErrNotFound(err) {
			t.Errorf("sweep network %s: %v", n.Name, err)
		}
	}
}

// Snapshot describes instance's containers as the engine has them (IDs,
// states, names), for tests that check a request changed nothing.
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
		Instance:     instance,
		Network:      "berth-" + instance,
		PublishIP:    "127.0.0.1",
		ActivityFile: filepath.Join(t.TempDir(), "activity.db"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
