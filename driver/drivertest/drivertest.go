// Package drivertest is the conformance suite every Berth driver passes
// against a real engine, and the engine helpers Berth's tests share.
//
// A driver's test file hooks in with one call:
//
//	func TestConformance(t *testing.T) {
//		drivertest.RunConformanceTests(t, drivertest.Harness{NewDriver: ..., PortHost: ...})
//	}
package drivertest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"berth/driver"
)

// Harness is what the suite needs of a driver's test.
type Harness struct {
	// NewDriver returns a driver on the engine under test for a fresh
	// instance, and arranges for everything of that instance to be removed
	// when t ends.
	NewDriver func(t *testing.T) driver.Driver
	// PortHost is the address at which the test reaches published ports.
	PortHost string
}

// RunConformanceTests runs the suite. Cases run in parallel.
func RunConformanceTests(t *testing.T, h Harness) {
	newDriver := h.NewDriver
	cases := []struct {
		name string
		test func(t *testing.T, d driver.Driver, h Harness)
	}{
		{"Lifecycle", testLifecycle},
		{"NotFound", testNotFound},
		{"IdempotentRemove", testIdempotentRemove},
		{"OwnerScoping", testOwnerScoping},
		{"Labels", testLabels},
		{"StateFilter", testStateFilter},
		{"Ports", testPorts},
		{"HardenedFromInside", testHardenedFromInside},
		{"NameConflict", testNameConflict},
		{"MissingImage", testMissingImage},
		{"Activity", testActivity},
		{"Images", testImages},
		{"ContextCancellation", testContextCancellation},
		{"ConcurrentCreates", testConcurrentCreates},
		{"ServiceLifecycle", testServiceLifecycle},
		{"ServiceErrors", testServiceErrors},
	}
	if _, ok := newDriver(t).(driver.Runner); ok { // the optional capability, tested when offered
		cases = append(cases, struct {
			name string
			test func(t *testing.T, d driver.Driver, h Harness)
		}{"Run", testRun})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.test(t, newDriver(t), h)
		})
	}
	t.Run("InstanceIsolation", func(t *testing.T) {
		t.Parallel()
		a, b := newDriver(t), newDriver(t)
		ctx := context.Background()
		created := mustCreate(t, a, Spec("iso", "alice"))
		if _, err := b.Get(ctx, created.ID, driver.Filter{}); !errors.Is(err, driver.ErrNotFound) {
			t.Errorf("another instance's Get = %v, want ErrNotFound", err)
		}
		if list, err := b.List(ctx, driver.Filter{}); err != nil || len(list) != 0 {
			t.Errorf("another instance's List = %d containers, %v; want none", len(list), err)
		}
	})
}

// testRun: a Runner's Run is Create then Start, and leaves nothing behind
// when it fails.
func testRun(t *testing.T, d driver.Driver, h Harness) {
	ctx := context.Background()
	r := d.(driver.Runner)
	spec := Spec("run", "alice")
	c, err := r.Run(ctx, spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if c.State != driver.StateRunning || len(c.Ports) != 2 || c.Name != spec.Name || c.LastActivity.IsZero() {
		t.Errorf("Run = %+v, want it running with two ports and a start recorded", c)
	}
	if _, err := r.Run(ctx, spec); !errors.Is(err, driver.ErrConflict) {
		t.Errorf("Run(same name) = %v, want ErrConflict", err)
	}
	missing := Spec("run-missing", "alice")
	missing.Image = "berth/no-such-image:latest"
	if _, err := r.Run(ctx, missing); !errors.Is(err, driver.ErrInvalid) {
		t.Errorf("Run(missing image) = %v, want ErrInvalid", err)
	}
	if list, err := d.List(ctx, driver.Filter{}); err != nil || len(list) != 1 || list[0].ID != c.ID {
		t.Errorf("List after Run = %v, %v; want just %s", ids(list), err, c.Name)
	}
}

// Spec returns a valid spec for the demo image with small limits.
func Spec(name, owner string) *driver.Spec {
	return &driver.Spec{
		Name:        uniqueName(name),
		Owner:       owner,
		Image:       DemoImage,
		Env:         []string{"GREETING=hello"},
		Labels:      map[string]string{},
		CheckinHash: strings.Repeat("ab", 32),
		Resources:   driver.Resources{MemoryBytes: 64 << 20, NanoCPUs: 500_000_000, PidsLimit: 64},
	}
}

var (
	nameMu  sync.Mutex
	nameSeq int
	runTag  = fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff)
)

// uniqueName makes names unique on the engine across parallel test runs.
func uniqueName(base string) string {
	nameMu.Lock()
	defer nameMu.Unlock()
	nameSeq++
	return fmt.Sprintf("t-%s-%s-%d", base, runTag, nameSeq)
}

func mustCreate(t *testing.T, d driver.Driver, spec *driver.Spec) *driver.Container {
	t.Helper()
	c, err := d.Create(context.Background(), spec)
	if err != nil {
		t.Fatalf("Create(%s): %v", spec.Name, err)
	}
	return c
}

func mustStart(t *testing.T, d driver.Driver, id string) *driver.Container {
	t.Helper()
	c, err := d.Start(context.Background(), id)
	if err != nil {
		t.Fatalf("Start(%s): %v", id, err)
	}
	return c
}

func mustGet(t *testing.T, d driver.Driver, ref string) *driver.Container {
	t.Helper()
	c, err := d.Get(context.Background(), ref, driver.Filter{})
	if err != nil {
		t.Fatalf("Get(%s): %v", ref, err)
	}
	return c
}

func testLifecycle(t *testing.T, d driver.Driver, _ Harness) {
	ctx := context.Background()
	spec := Spec("life", "alice")
	spec.IdleTimeout = 90 * time.Minute
	before := time.Now()
	created := mustCreate(t, d, spec)
	if created.ID == "" || created.Name != spec.Name || created.Owner != "alice" || created.Image != DemoImage {
		t.Fatalf("Create = %+v, want ID, name %s, owner alice, image %s", created, spec.Name, DemoImage)
	}
	if created.State != driver.StateStopped {
		t.Errorf("created state = %s, want stopped", created.State)
	}
	for _, ref := range []string{created.ID, created.Name} {
		got := mustGet(t, d, ref)
		if got.ID != created.ID || got.State != driver.StateStopped || len(got.Ports) != 0 {
			t.Errorf("Get(%s) = %+v, want stopped %s without ports", ref, got, created.ID)
		}
		if got.IdleTimeout != 90*time.Minute || got.CheckinHash != spec.CheckinHash {
			t.Errorf("Get(%s): idle %v hash %q, want 1h30m0s and the spec's", ref, got.IdleTimeout, got.CheckinHash)
		}
		if got.CreatedAt.Before(before.Add(-time.Second)) || got.CreatedAt.After(time.Now().Add(time.Second)) {
			t.Errorf("CreatedAt = %v, want about %v", got.CreatedAt, before)
		}
	}
	list, err := d.List(ctx, driver.Filter{})
	if err != nil || len(list) != 1 || list[0].ID != created.ID {
		t.Fatalf("List = %v, %v; want just %s", ids(list), err, created.ID)
	}

	running := mustStart(t, d, created.ID)
	if running.State != driver.StateRunning || len(running.Ports) != 2 {
		t.Fatalf("Start = %s with ports %v, want running with 22 and 8080 published", running.State, running.Ports)
	}
	if running.LastActivity.Before(before) {
		t.Errorf("LastActivity after start = %v, want at least %v", running.LastActivity, before)
	}
	if again := mustStart(t, d, created.ID); again.State != driver.StateRunning {
		t.Errorf("second Start = %s, want running", again.State)
	}

	if err := d.Stop(ctx, created.ID, 5*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if got := mustGet(t, d, created.ID); got.State != driver.StateStopped || len(got.Ports) != 0 {
		t.Errorf("after Stop: %s with ports %v, want stopped without ports", got.State, got.Ports)
	}
	if err := d.Stop(ctx, created.ID, 5*time.Second); err != nil {
		t.Errorf("second Stop: %v, want nil", err)
	}
	if restarted := mustStart(t, d, created.ID); restarted.State != driver.StateRunning || len(restarted.Ports) != 2 {
		t.Errorf("restart = %s with %v, want running with two ports", restarted.State, restarted.Ports)
	}

	if err := d.Remove(ctx, created.ID); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := d.Get(ctx, created.ID, driver.Filter{}); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Get after Remove = %v, want ErrNotFound", err)
	}
}

func testNotFound(t *testing.T, d driver.Driver, _ Harness) {
	ctx := context.Background()
	unknownID := strings.Repeat("0f", 32)
	for _, ref := range []string{"no-such-container", unknownID} {
		if _, err := d.Get(ctx, ref, driver.Filter{}); !errors.Is(err, driver.ErrNotFound) {
			t.Errorf("Get(%s) = %v, want ErrNotFound", ref, err)
		}
	}
	if _, err := d.Start(ctx, unknownID); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Start(unknown) = %v, want ErrNotFound", err)
	}
	if err := d.Stop(ctx, unknownID, time.Second); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Stop(unknown) = %v, want ErrNotFound", err)
	}
}

func testIdempotentRemove(t *testing.T, d driver.Driver, _ Harness) {
	ctx := context.Background()
	c := mustCreate(t, d, Spec("rm", "alice"))
	mustStart(t, d, c.ID)
	for i := range 2 {
		if err := d.Remove(ctx, c.ID); err != nil {
			t.Errorf("Remove #%d: %v", i+1, err)
		}
	}
	if err := d.Remove(ctx, strings.Repeat("0e", 32)); err != nil {
		t.Errorf("Remove(never existed) = %v, want nil", err)
	}
}

func testOwnerScoping(t *testing.T, d driver.Driver, _ Harness) {
	ctx := context.Background()
	a := mustCreate(t, d, Spec("own-a", "alice"))
	b := mustCreate(t, d, Spec("own-b", "bob"))
	list, err := d.List(ctx, driver.Filter{Owner: "alice"})
	if err != nil || len(list) != 1 || list[0].ID != a.ID {
		t.Errorf("List(alice) = %v, %v; want only %s", ids(list), err, a.ID)
	}
	for _, ref := range []string{b.ID, b.Name} {
		if _, err := d.Get(ctx, ref, driver.Filter{Owner: "alice"}); !errors.Is(err, driver.ErrNotFound) {
			t.Errorf("alice's Get(bob's %s) = %v, want ErrNotFound", ref, err)
		}
	}
	if got, err := d.Get(ctx, b.ID, driver.Filter{Owner: "bob"}); err != nil || got.Owner != "bob" {
		t.Errorf("bob's Get = %v, %v", got, err)
	}
	if all, err := d.List(ctx, driver.Filter{}); err != nil || len(all) != 2 {
		t.Errorf("List(any owner) = %v, %v; want both", ids(all), err)
	}
}

func testLabels(t *testing.T, d driver.Driver, _ Harness) {
	ctx := context.Background()
	x, y := Spec("lab-x", "alice"), Spec("lab-y", "alice")
	x.Labels = map[string]string{"course": "go-101", "seat": "12"}
	y.Labels = map[string]string{"course": "rust-101"}
	cx := mustCreate(t, d, x)
	mustCreate(t, d, y)
	list, err := d.List(ctx, driver.Filter{Labels: map[string]string{"course": "go-101"}})
	if err != nil || len(list) != 1 || list[0].ID != cx.ID {
		t.Fatalf("List(course=go-101) = %v, %v; want just %s", ids(list), err, cx.ID)
	}
	if got := list[0].Labels; len(got) != 2 || got["course"] != "go-101" || got["seat"] != "12" {
		t.Errorf("labels = %v, want exactly the spec's", got)
	}
}

func testStateFilter(t *testing.T, d driver.Driver, _ Harness) {
	ctx := context.Background()
	run := mustCreate(t, d, Spec("st-run", "alice"))
	mustStart(t, d, run.ID)
	idle := mustCreate(t, d, Spec("st-idle", "alice"))
	for state, want := range map[driver.State]string{driver.StateRunning: run.ID, driver.StateStopped: idle.ID} {
		list, err := d.List(ctx, driver.Filter{State: state})
		if err != nil || len(list) != 1 || list[0].ID != want {
			t.Errorf("List(%s) = %v, %v; want just %s", state, ids(list), err, want)
		}
	}
}

func testPorts(t *testing.T, d driver.Driver, h Harness) {
	c := mustCreate(t, d, Spec("ports", "alice"))
	c = mustStart(t, d, c.ID)
	host := map[int]int{}
	for _, p := range c.Ports {
		if p.Protocol != "tcp" || p.Host <= 0 {
			t.Errorf("port %+v: want tcp with a host port", p)
		}
		host[p.Container] = p.Host
	}
	if host[22] == 0 || host[8080] == 0 {
		t.Fatalf("ports %v: want 22 and 8080 published", c.Ports)
	}
	// The published ports reach the container's processes.
	banner := eventually(t, func() (string, error) {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(h.PortHost, fmt.Sprint(host[22])), time.Second)
		if err != nil {
			return "", err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		return bufio.NewReader(conn).ReadString('\n')
	})
	if !strings.HasPrefix(banner, "SSH-2.0-") {
		t.Errorf("port 22 says %q, want an SSH banner", banner)
	}
	body := eventually(t, func() (string, error) {
		return httpBody("http://" + net.JoinHostPort(h.PortHost, fmt.Sprint(host[8080])) + "/env/GREETING")
	})
	if body != "hello" {
		t.Errorf("GET :8080/env/GREETING = %q, want the spec's env value", body)
	}
}

// testHardenedFromInside reads the container process's own status through
// its published port: no capabilities, no new privileges, seccomp on.
func testHardenedFromInside(t *testing.T, d driver.Driver, h Harness) {
	c := mustCreate(t, d, Spec("inside", "alice"))
	c = mustStart(t, d, c.ID)
	var app int
	for _, p := range c.Ports {
		if p.Container == 8080 {
			app = p.Host
		}
	}
	status := eventually(t, func() (string, error) {
		return httpBody("http://" + net.JoinHostPort(h.PortHost, fmt.Sprint(app)) + "/self/status")
	})
	for _, want := range []string{"CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2"} {
		if !strings.Contains(status, want+"\n") {
			t.Errorf("/proc/self/status lacks %q:\n%s", want, status)
		}
	}
}

func httpBody(url string) (string, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// eventually retries f for a few seconds while the container's process starts.
func eventually(t *testing.T, f func() (string, error)) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := f()
		if err == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func testNameConflict(t *testing.T, d driver.Driver, _ Harness) {
	spec := Spec("dup", "alice")
	first := mustCreate(t, d, spec)
	other := *spec
	other.Owner = "bob"
	if _, err := d.Create(context.Background(), &other); !errors.Is(err, driver.ErrConflict) {
		t.Errorf("second Create(%s) = %v, want ErrConflict", spec.Name, err)
	}
	if got := mustGet(t, d, spec.Name); got.ID != first.ID || got.Owner != "alice" {
		t.Errorf("after conflict the name is %s of %s, want the first's", got.ID, got.Owner)
	}
}

func testMissingImage(t *testing.T, d driver.Driver, _ Harness) {
	spec := Spec("noimg", "alice")
	spec.Image = "berth/no-such-image:latest"
	if _, err := d.Create(context.Background(), spec); !errors.Is(err, driver.ErrInvalid) {
		t.Errorf("Create(missing image) = %v, want ErrInvalid", err)
	}
	if list, err := d.List(context.Background(), driver.Filter{}); err != nil || len(list) != 0 {
		t.Errorf("after a failed create: %v, %v; want nothing", ids(list), err)
	}
}

func testActivity(t *testing.T, d driver.Driver, _ Harness) {
	ctx := context.Background()
	c := mustCreate(t, d, Spec("act", "alice"))
	c = mustStart(t, d, c.ID)
	started := c.LastActivity

	busy := started.Add(time.Minute).Truncate(time.Millisecond)
	if err := d.RecordActivity(ctx, c.ID, driver.Activity{At: busy, Active: true}); err != nil {
		t.Fatalf("RecordActivity: %v", err)
	}
	got := mustGet(t, d, c.ID)
	if !got.LastActivity.Equal(busy) || !got.CheckedInAt.Equal(busy) || !got.Active {
		t.Errorf("after an active check-in: last %v checked %v active %v; want %v, %v, true", got.LastActivity, got.CheckedInAt, got.Active, busy, busy)
	}

	quiet := busy.Add(time.Minute)
	if err := d.RecordActivity(ctx, c.ID, driver.Activity{At: quiet, Active: false}); err != nil {
		t.Fatalf("RecordActivity: %v", err)
	}
	got = mustGet(t, d, c.ID)
	if !got.LastActivity.Equal(busy) || !got.CheckedInAt.Equal(quiet) || got.Active {
		t.Errorf("after an idle check-in: last %v checked %v active %v; want %v, %v, false", got.LastActivity, got.CheckedInAt, got.Active, busy, quiet)
	}
}

func testImages(t *testing.T, d driver.Driver, _ Harness) {
	refs, err := d.Images(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for i, r := range refs {
		found = found || r == DemoImage
		if strings.Contains(r, "<none>") || (i > 0 && refs[i-1] >= r) {
			t.Errorf("Images()[%d] = %q: want tagged, sorted, unique refs", i, r)
		}
	}
	if !found {
		t.Errorf("Images() = %v, want %s among them", refs, DemoImage)
	}
}

func testContextCancellation(t *testing.T, d driver.Driver, _ Harness) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	began := time.Now()
	if _, err := d.List(ctx, driver.Filter{}); err == nil {
		t.Error("List with a cancelled context succeeded")
	} else if !errors.Is(err, context.Canceled) && !errors.Is(err, driver.ErrUnavailable) {
		t.Errorf("List with a cancelled context = %v, want context.Canceled or ErrUnavailable", err)
	}
	if _, err := d.Create(ctx, Spec("cancel", "alice")); err == nil {
		t.Error("Create with a cancelled context succeeded")
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("cancelled calls took %v, want them to return at once", took)
	}
	if list, err := d.List(context.Background(), driver.Filter{}); err != nil || len(list) != 0 {
		t.Errorf("after cancelled calls: %v, %v; want nothing created", ids(list), err)
	}
}

func testConcurrentCreates(t *testing.T, d driver.Driver, _ Harness) {
	const n = 6
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = d.Create(ctx, Spec("conc", "alice")) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Create #%d: %v", i, err)
		}
	}

	same := Spec("race", "alice")
	won := make([]error, n)
	for i := range n {
		wg.Go(func() { _, won[i] = d.Create(ctx, same) })
	}
	wg.Wait()
	ok, conflicts := 0, 0
	for _, err := range won {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, driver.ErrConflict):
			conflicts++
		default:
			t.Errorf("racing Create: %v", err)
		}
	}
	if ok != 1 || conflicts != n-1 {
		t.Errorf("%d creates of one name: %d succeeded, %d conflicted; want 1 and %d", n, ok, conflicts, n-1)
	}
	if list, err := d.List(ctx, driver.Filter{}); err != nil || len(list) != n+1 {
		t.Errorf("List = %d containers, %v; want %d", len(list), err, n+1)
	}
}

func ids(cs []*driver.Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}
