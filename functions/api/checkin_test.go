package api_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"berth/driver/drivertest"
	"berth/functions/api"

	"github.com/docker/docker/api/types/swarm"
)

// TestCheckInFromContainer runs the demo image and lets it check in from
// inside its own container, through the check-in URL and token Berth gave
// it, and shows last_activity moving while a client holds a connection.
func TestCheckInFromContainer(t *testing.T) { eachDriver(t, testCheckInFromContainer) }

func testCheckInFromContainer(t *testing.T, kind string) {
	e := newEnv(t, kind, nil)
	c := e.create(admin, map[string]any{"image": "berth/demo", "env": map[string]string{"CHECKIN_INTERVAL": "300ms"}})
	started := *c.LastActivity

	// Idle check-ins arrive but do not count as activity.
	time.Sleep(time.Second)
	if got := e.get(admin, c.ID); got.Active != "0" || !got.LastActivity.Equal(started) {
		t.Errorf("idle container: active %q last_activity %v; want \"0\" and the start time %v", got.Active, got.LastActivity, started)
	}

	// A client connection makes the container report activity.
	conn := drivertest.HoldConnection(t, e.app(c.AppPort))
	busy := e.waitFor(admin, c.ID, "active", func(c container) bool { return c.Active == "1" })
	if !busy.LastActivity.After(started) {
		t.Errorf("active container: last_activity %v did not move past %v", busy.LastActivity, started)
	}
	later := e.waitFor(admin, c.ID, "active again later", func(c container) bool { return c.LastActivity.After(*busy.LastActivity) })
	conn.Close()

	quiet := e.waitFor(admin, c.ID, "inactive", func(c container) bool { return c.Active == "0" })
	if quiet.LastActivity.Before(*later.LastActivity) {
		t.Errorf("last_activity went back from %v to %v", later.LastActivity, quiet.LastActivity)
	}
}

func TestCheckInWithToken(t *testing.T) { eachDriver(t, testCheckInWithToken) }

func testCheckInWithToken(t *testing.T, kind string) {
	e := newEnv(t, kind, nil)
	c := e.create(admin, map[string]string{"image": "berth/demo"})
	token := e.checkinToken(c.ID)

	resp := e.do("POST", "/v1/check-in", "Bearer "+token, `{"active-connections": 2}`)
	var got struct {
		ID           string
		Active       string
		LastActivity time.Time `json:"last_activity"`
	}
	resp.decode(t, &got)
	if resp.code != http.StatusOK || got.ID != c.ID || got.Active != "1" || !got.LastActivity.After(*c.LastActivity) {
		t.Fatalf("check-in: %s", resp)
	}
	if now := e.get(admin, c.ID); now.Active != "1" || !now.LastActivity.Equal(got.LastActivity) {
		t.Errorf("after check-in: active %q last %v; want \"1\" and %v", now.Active, now.LastActivity, got.LastActivity)
	}
	// The seed's form body, with a count of zero.
	resp = e.do("POST", "/v1/check-in", "Bearer "+token, url.Values{"active-connections": {"0"}})
	if resp.code != http.StatusOK {
		t.Fatalf("form check-in: %s", resp)
	}
	if now := e.get(admin, c.ID); now.Active != "0" || !now.LastActivity.Equal(got.LastActivity) {
		t.Errorf("after idle check-in: active %q last %v; want \"0\", unchanged", now.Active, now.LastActivity)
	}
	for _, body := range []string{`{}`, `{"active-connections": -1}`, `{"active-connections": "many"}`} {
		if r := e.do("POST", "/v1/check-in", "Bearer "+token, body); r.code != http.StatusBadRequest {
			t.Errorf("check-in %s: %s, want 400", body, r)
		}
	}
	// A removed container's token is refused.
	e.do("DELETE", "/v1/containers/"+c.ID, admin, nil)
	if r := e.do("POST", "/v1/check-in", "Bearer "+token, `{"active-connections": 1}`); r.code != http.StatusUnauthorized {
		t.Errorf("check-in for a removed container: %s, want 401", r)
	}
}

// TestCheckInByIP: the legacy token-less check-in works only when enabled,
// and a container can only ever report for itself.
func TestCheckInByIP(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		e := newEnv(t, "docker", func(cfg *api.Config) { cfg.CheckinByIP = enabled })
		x := e.create(admin, map[string]string{"image": "berth/demo"})
		y := e.create(admin, map[string]string{"image": "berth/demo"})
		yIP := e.ip(y.ID)

		// x reports without its token, claiming y's address in a header.
		resp := httpPost(t, "http://"+e.app(x.AppPort)+"/check-in?auth=none&active=3&forwarded_for="+yIP)
		gotX, gotY := e.get(admin, x.ID), e.get(admin, y.ID)
		if gotY.Active != "0" {
			t.Errorf("enabled=%v: x's check-in marked y active", enabled)
		}
		if enabled {
			if !strings.HasPrefix(resp, "200") || gotX.Active != "1" {
				t.Errorf("enabled: x's token-less check-in = %s, x active %q; want 200 and \"1\"", resp, gotX.Active)
			}
		} else if !strings.HasPrefix(resp, "401") || gotX.Active != "0" {
			t.Errorf("disabled: x's token-less check-in = %s, x active %q; want 401 and \"0\"", resp, gotX.Active)
		}
		// The token path works either way.
		if resp := httpPost(t, "http://"+e.app(y.AppPort)+"/check-in?active=1"); !strings.HasPrefix(resp, "200") {
			t.Errorf("enabled=%v: y's check-in with its token = %s", enabled, resp)
		}
	}
}

// checkinToken reads a container's check-in token from its environment, as
// the process inside it does.
func (e *env) checkinToken(id string) string {
	e.t.Helper()
	var env []string
	if info, err := e.cli.ContainerInspect(context.Background(), id); err == nil {
		env = info.Config.Env
	} else if svc, _, err := e.cli.ServiceInspectWithRaw(context.Background(), id, swarm.ServiceInspectOptions{}); err == nil {
		env = svc.Spec.TaskTemplate.ContainerSpec.Env // on a swarm, a container is a service
	} else {
		e.t.Fatal(err)
	}
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "BERTH_CHECKIN_TOKEN="); ok {
			return v
		}
	}
	e.t.Fatalf("container %s has no BERTH_CHECKIN_TOKEN", id)
	return ""
}

func (e *env) ip(id string) string {
	e.t.Helper()
	info, err := e.cli.ContainerInspect(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, n := range info.NetworkSettings.Networks {
		return n.IPAddress
	}
	e.t.Fatalf("container %s has no address", id)
	return ""
}

// httpPost posts to the demo app, retrying while it starts, and returns
// "<status> <body>".
func httpPost(t *testing.T, u string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Post(u, "text/plain", nil)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.Status[:3] + " " + string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("POST %s: %v", u, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
