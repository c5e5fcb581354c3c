package drivertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"berth/driver"
)

// ServiceSpec returns a valid service spec for the demo image publishing
// 8080, with small limits.
func ServiceSpec(name, owner string, replicas int) *driver.ServiceSpec {
	return &driver.ServiceSpec{
		Name:      uniqueName(name),
		Owner:     owner,
		Image:     DemoImage,
		Env:       []string{"GREETING=one"},
		Ports:     []int{8080},
		Replicas:  replicas,
		Resources: driver.Resources{MemoryBytes: 64 << 20, NanoCPUs: 500_000_000, PidsLimit: 64},
	}
}

// waitService polls the service until ok holds or 60 seconds pass.
func waitService(t *testing.T, d driver.Driver, name, what string, ok func(*driver.Service) bool) *driver.Service {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		s, err := d.GetService(context.Background(), name, driver.Filter{})
		if err != nil {
			t.Fatalf("GetService(%s): %v", name, err)
		}
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("service %s never %s: desired %d running %d replicas %+v", name, what, s.Desired, s.Running, s.Replicas)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// greetings asks every replica's port 8080 for its GREETING.
func greetings(t *testing.T, h Harness, s *driver.Service) []string {
	t.Helper()
	var out []string
	for _, r := range s.Replicas {
		host := 0
		for _, p := range r.Ports {
			if p.Container == 8080 {
				host = p.Host
			}
		}
		if host == 0 {
			t.Fatalf("replica %s publishes no 8080: %+v", r.ID, r.Ports)
		}
		out = append(out, eventually(t, func() (string, error) {
			return httpBody("http://" + net.JoinHostPort(h.PortHost, fmt.Sprint(host)) + "/env/GREETING")
		}))
	}
	return out
}

func testServiceLifecycle(t *testing.T, d driver.Driver, h Harness) {
	ctx := context.Background()
	spec := ServiceSpec("svc", "alice", 2)
	created, err := d.CreateService(ctx, spec)
	if err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	if created.Name != spec.Name || created.Owner != "alice" || created.Image != DemoImage || created.Desired != 2 ||
		!slices.Equal(created.Ports, []int{8080}) || !slices.Equal(created.Env, spec.Env) {
		t.Errorf("CreateService = %+v, want the spec's definition with 2 desired", created)
	}
	s := waitService(t, d, spec.Name, "ran 2 replicas", func(s *driver.Service) bool { return s.Running == 2 && len(s.Replicas) == 2 })
	if g := greetings(t, h, s); !slices.Equal(g, []string{"one", "one"}) {
		t.Errorf("replicas say %q, want one from each", g)
	}
	if list, err := d.ListServices(ctx, driver.Filter{}); err != nil || len(list) != 1 || list[0].Name != spec.Name {
		t.Errorf("ListServices = %v, %v", list, err)
	}
	if containers, err := d.List(ctx, driver.Filter{}); err != nil || len(containers) != 0 {
		t.Errorf("a service's replicas show as containers: %v, %v", ids(containers), err)
	}

	if _, err := d.ScaleService(ctx, spec.Name, 3); err != nil {
		t.Fatalf("ScaleService(3): %v", err)
	}
	s = waitService(t, d, spec.Name, "ran 3 replicas", func(s *driver.Service) bool { return s.Running == 3 && s.Desired == 3 })
	before := replicaIDs(s)

	next := *spec
	next.Env = []string{"GREETING=two"}
	if _, err := d.UpdateService(ctx, spec.Name, &next); err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	s = waitService(t, d, spec.Name, "replaced all replicas", func(s *driver.Service) bool {
		ids := replicaIDs(s)
		return s.Running == 3 && len(ids) == 3 && !slices.ContainsFunc(ids, func(id string) bool { return slices.Contains(before, id) })
	})
	if g := greetings(t, h, s); !slices.Equal(g, []string{"two", "two", "two"}) {
		t.Errorf("after the update replicas say %q, want two from each", g)
	}
	if s.Desired != 3 || s.Owner != "alice" || !slices.Equal(s.Env, next.Env) {
		t.Errorf("after the update: %+v, want 3 desired, alice's, the new env", s)
	}

	if _, err := d.ScaleService(ctx, spec.Name, 0); err != nil {
		t.Fatalf("ScaleService(0): %v", err)
	}
	waitService(t, d, spec.Name, "stopped all replicas", func(s *driver.Service) bool { return s.Running == 0 && s.Desired == 0 })
	for i := range 2 {
		if err := d.RemoveService(ctx, spec.Name); err != nil {
			t.Errorf("RemoveService #%d: %v", i+1, err)
		}
	}
	if _, err := d.GetService(ctx, spec.Name, driver.Filter{}); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("GetService after remove = %v, want ErrNotFound", err)
	}
}

func testServiceErrors(t *testing.T, d driver.Driver, _ Harness) {
	ctx := context.Background()
	spec := ServiceSpec("svcerr", "alice", 0)
	if _, err := d.CreateService(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateService(ctx, spec); !errors.Is(err, driver.ErrConflict) {
		t.Errorf("second CreateService(%s) = %v, want ErrConflict", spec.Name, err)
	}
	if _, err := d.GetService(ctx, spec.Name, driver.Filter{Owner: "bob"}); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("bob's GetService(alice's) = %v, want ErrNotFound", err)
	}
	if list, err := d.ListServices(ctx, driver.Filter{Owner: "bob"}); err != nil || len(list) != 0 {
		t.Errorf("bob's ListServices = %v, %v; want none", list, err)
	}
	for name, call := range map[string]func() error{
		"GetService":    func() error { _, err := d.GetService(ctx, "no-such-service", driver.Filter{}); return err },
		"ScaleService":  func() error { _, err := d.ScaleService(ctx, "no-such-service", 1); return err },
		"UpdateService": func() error { _, err := d.UpdateService(ctx, "no-such-service", spec); return err },
	} {
		if err := call(); !errors.Is(err, driver.ErrNotFound) {
			t.Errorf("%s(unknown) = %v, want ErrNotFound", name, err)
		}
	}
	missing := *spec
	missing.Image = "berth/no-such-image:latest"
	if _, err := d.UpdateService(ctx, spec.Name, &missing); !errors.Is(err, driver.ErrInvalid) {
		t.Errorf("UpdateService(missing image) = %v, want ErrInvalid", err)
	}
	if s, err := d.GetService(ctx, spec.Name, driver.Filter{}); err != nil || s.Image != DemoImage {
		t.Errorf("after a refused update: %+v, %v; want the old image", s, err)
	}
	missing.Name = uniqueName("svcmissing")
	if _, err := d.CreateService(ctx, &missing); !errors.Is(err, driver.ErrInvalid) {
		t.Errorf("CreateService(missing image) = %v, want ErrInvalid", err)
	}
	if _, err := d.GetService(ctx, missing.Name, driver.Filter{}); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("a refused create left service %s: %v", missing.Name, err)
	}
	if err := d.RemoveService(ctx, "no-such-service"); err != nil {
		t.Errorf("RemoveService(unknown) = %v, want nil", err)
	}
}

func replicaIDs(s *driver.Service) []string {
	var out []string
	for _, r := range s.Replicas {
		out = append(out, r.ID)
	}
	return out
}
