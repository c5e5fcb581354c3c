package docker_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"berth/driver"
	"berth/driver/docker"
	"berth/driver/drivertest"
	"berth/driver/internal/labels"

	"github.com/docker/go-connections/nat"
)

func newDriver(t *testing.T) driver.Driver {
	cli := drivertest.Engine(t)
	return drivertest.DockerDriver(t, cli, drivertest.Instance(t, cli))
}

func TestConformance(t *testing.T) {
	drivertest.RunConformanceTests(t, drivertest.Harness{NewDriver: newDriver, PortHost: "127.0.0.1"})
}

// TestHardened inspects a created container and checks every hardening
// default the API promises.
func TestHardened(t *testing.T) {
	cli := drivertest.Engine(t)
	d := newDriver(t)
	spec := drivertest.Spec("hard", "alice")
	spec.CapAdd = []string{"NET_BIND_SERVICE"}
	c, err := d.Create(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	info, err := cli.ContainerInspect(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	hc := info.HostConfig
	checks := []struct {
		what string
		ok   bool
	}{
		{"not privileged", !hc.Privileged},
		{"all capabilities dropped", slices.Equal(hc.CapDrop, []string{"ALL"})},
		{"only the configured capability added back", len(hc.CapAdd) == 1 && strings.TrimPrefix(hc.CapAdd[0], "CAP_") == "NET_BIND_SERVICE"},
		{"no-new-privileges", slices.Contains(hc.SecurityOpt, "no-new-privileges:true")},
		{"memory limit", hc.Memory == spec.Resources.MemoryBytes && hc.MemorySwap == hc.Memory},
		{"cpu limit", hc.NanoCPUs == spec.Resources.NanoCPUs},
		{"pids limit", hc.PidsLimit != nil && *hc.PidsLimit == spec.Resources.PidsLimit},
		{"no host mounts", len(hc.Binds) == 0 && len(hc.Mounts) == 0 && len(info.Mounts) == 0},
		{"own network namespace", hc.NetworkMode.UserDefined() == "berth-"+info.Config.Labels[labels.Instance]},
		{"own pid namespace", hc.PidMode == ""},
		{"private ipc", hc.IpcMode.IsPrivate()},
		{"own uts namespace", hc.UTSMode == ""},
		{"no restart", hc.RestartPolicy.Name == "no"},
		{"ports on the publish address only", publishedOn(hc.PortBindings, "127.0.0.1")},
		{"labelled", info.Config.Labels[labels.Owner] == "alice" && info.Config.Labels[labels.Name] == spec.Name},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: not so in %+v", c.what, hc)
		}
	}
}

func publishedOn(bindings map[nat.Port][]nat.PortBinding, ip string) bool {
	if len(bindings) == 0 {
		return false
	}
	for _, bs := range bindings {
		for _, b := range bs {
			if b.HostIP != ip {
				return false
			}
		}
	}
	return true
}

// TestServiceSurvivesRestart: a service's definition outlives the driver
// (Berth restarting), and the reconcile pass replaces a replica that died.
func TestServiceSurvivesRestart(t *testing.T) {
	cli := drivertest.Engine(t)
	instance := drivertest.Instance(t, cli)
	stateFile := filepath.Join(t.TempDir(), "state.db")
	open := func() *docker.Driver {
		d, err := docker.New(cli, docker.Options{Instance: instance, Network: "berth-" + instance, PublishIP: "127.0.0.1", StateFile: stateFile})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ctx := context.Background()
	first := open()
	spec := drivertest.ServiceSpec("restart", "alice", 2)
	if _, err := first.CreateService(ctx, spec); err != nil {
		t.Fatal(err)
	}
	first.Close()

	second := open()
	t.Cleanup(func() { second.Close() })
	s, err := second.GetService(ctx, spec.Name, driver.Filter{})
	if err != nil || s.Desired != 2 || s.Running != 2 || s.Image != drivertest.DemoImage {
		t.Fatalf("after a restart: %+v, %v; want the definition and its 2 replicas", s, err)
	}
	dead := s.Replicas[0].ID
	if err := cli.ContainerKill(ctx, dead, "KILL"); err != nil {
		t.Fatal(err)
	}
	if s, _ = second.GetService(ctx, spec.Name, driver.Filter{}); s.Running != 1 {
		t.Fatalf("after a kill: %d running, want 1", s.Running)
	}
	if err := second.ConvergeServices(ctx); err != nil {
		t.Fatal(err)
	}
	s, err = second.GetService(ctx, spec.Name, driver.Filter{})
	if err != nil || s.Running != 2 || slices.ContainsFunc(s.Replicas, func(r driver.Replica) bool { return r.ID == dead }) {
		t.Errorf("after a reconcile: %+v, %v; want 2 running, the dead one replaced", s, err)
	}
}
