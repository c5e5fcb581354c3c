package api_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"berth/driver"
)

func TestReconcileCullsIdleContainers(t *testing.T) { eachDriver(t, testReconcileCullsIdleContainers) }

func testReconcileCullsIdleContainers(t *testing.T, kind string) {
	e := newEnv(t, kind, nil)
	ctx := context.Background()
	short := e.create(admin, map[string]string{"image": "berth/demo", "idle_timeout": "1m"})
	long := e.create(admin, map[string]string{"image": "berth/demo"}) // the 2h30m default
	stopped := e.create(admin, map[string]string{"image": "berth/demo", "idle_timeout": "1m"})
	e.do("PATCH", "/v1/containers/"+stopped.ID, admin, `{"status":"stopped"}`)
	e.waitFor(admin, stopped.ID, "stopped", func(c container) bool { return c.Status == "stopped" })
	now := time.Now()

	report, err := e.api.Reconcile(ctx, now)
	if err != nil || len(report.Culled) != 0 || report.Running != 2 {
		t.Fatalf("fresh containers: %+v, %v; want 2 running, none culled", report, err)
	}
	report, err = e.api.Reconcile(ctx, now.Add(2*time.Minute))
	if err != nil || !slices.Equal(report.Culled, []string{short.ID}) {
		t.Fatalf("after 2m: %+v, %v; want only the 1m container culled", report, err)
	}
	if got := e.get(admin, short.ID); got.Status != "stopped" || got.AppPort != "" {
		t.Errorf("culled container: %s with app_port %q", got.Status, got.AppPort)
	}

	// Activity keeps a container: a check-in at 2h20m carries it past 2h30m.
	if err := e.driver.RecordActivity(ctx, long.ID, driver.Activity{At: now.Add(140 * time.Minute), Active: true}); err != nil {
		t.Fatal(err)
	}
	if report, err = e.api.Reconcile(ctx, now.Add(3*time.Hour)); err != nil || len(report.Culled) != 0 {
		t.Fatalf("at 3h with activity at 2h20m: %+v, %v; want nothing culled", report, err)
	}
	if report, err = e.api.Reconcile(ctx, now.Add(5*time.Hour)); err != nil || !slices.Equal(report.Culled, []string{long.ID}) {
		t.Fatalf("at 5h: %+v, %v; want the default-timeout container culled", report, err)
	}
	if got := e.get(admin, long.ID); got.Status != "stopped" {
		t.Errorf("culled container is %s", got.Status)
	}
}
