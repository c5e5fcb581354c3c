package swarm_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"berth/driver"
	"berth/driver/connect"
	"berth/driver/drivertest"
	"berth/driver/swarm"
	"berth/infra/engine"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
)

// private is this package's engine: a one-node swarm reached over TLS, the
// production setup in miniature.
var private = &drivertest.PrivateEngine{Options: engine.Options{TLS: true, Swarm: true}}

func TestMain(m *testing.M) { os.Exit(private.Run(m)) }

// tlsConfig reaches the swarm over TLS with its client certificate.
func tlsConfig(t testing.TB) connect.Config {
	eng := private.Get(t)
	return connect.Config{Host: eng.TCPHost, CertPath: eng.CertDir, DialTimeout: 5 * time.Second, CallTimeout: 30 * time.Second}
}

func newDriver(t *testing.T) driver.Driver {
	cli := drivertest.Connect(t, tlsConfig(t))
	instance := drivertest.Instance(t, cli)
	d, err := swarm.New(cli, swarm.Options{Instance: instance, Network: "berth-" + instance})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestConformance(t *testing.T) {
	drivertest.RunConformanceTests(t, drivertest.Harness{NewDriver: newDriver, PortHost: private.Get(t).IP})
}

// TestConcurrentUpdatesLoseNothing: many writers at once — check-ins from
// many Lambda instances and a stop — all land, because each update carries
// the service's version and is retried when it lost the race.
func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	d := newDriver(t)
	ctx := context.Background()
	c, err := d.Create(ctx, drivertest.Spec("cas", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if c, err = d.Start(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	latest := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 12 {
		wg.Go(func() {
			at := latest.Add(-time.Duration(i) * time.Second) // i == 0 is the latest
			errs <- d.RecordActivity(ctx, c.ID, driver.Activity{At: at, Active: i%2 == 0})
		})
	}
	wg.Go(func() { errs <- d.Stop(ctx, c.ID, 2*time.Second) })
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent update: %v", err)
		}
	}
	got, err := d.Get(ctx, c.ID, driver.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != driver.StateStopped {
		t.Errorf("the stop was lost: state %s", got.State)
	}
	if got.CheckedInAt.IsZero() || got.LastActivity.Before(c.LastActivity) {
		t.Errorf("check-ins were lost: checked in %v, last activity %v", got.CheckedInAt, got.LastActivity)
	}
}

// TestActivityKeepsTheTask: recording activity rewrites the service's labels
// but not its task: the running container is the same one afterwards.
func TestActivityKeepsTheTask(t *testing.T) {
	cli := drivertest.Connect(t, tlsConfig(t))
	instance := drivertest.Instance(t, cli)
	d, err := swarm.New(cli, swarm.Options{Instance: instance, Network: "berth-" + instance})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := d.Create(ctx, drivertest.Spec("keep", "alice"))
	if err == nil {
		c, err = d.Start(ctx, c.ID)
	}
	if err != nil {
		t.Fatal(err)
	}
	before := runningContainers(t, cli, instance)
	for i := range 3 {
		if err := d.RecordActivity(ctx, c.ID, driver.Activity{At: time.Now(), Active: i == 1}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second) // a task replaced by an update would be on its way by now
	if after := runningContainers(t, cli, instance); fmt.Sprint(after) != fmt.Sprint(before) || len(after) != 1 {
		t.Errorf("containers before %v, after check-ins %v: want the same one", before, after)
	}
}

func runningContainers(t *testing.T, cli *client.Client, instance string) []string {
	t.Helper()
	list, err := cli.ContainerList(context.Background(), container.ListOptions{
		Filters: filters.NewArgs(filters.Arg("label", "berth.instance="+instance)),
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	return ids
}
