package api_test

import (
	"bufio"
	"context"
	"fmt"

	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"berth/functions/api"
)

// engineID is what an engine's IDs look like: a container's 64 hex digits,
// a swarm service's 25 letters and digits.
var engineID = map[string]*regexp.Regexp{
	"docker": regexp.MustCompile(`^[0-9a-f]{64}$`),
	"swarm":  regexp.MustCompile(`^[0-9a-z]{25}$`),
}

func TestContainerLifecycle(t *testing.T) { eachDriver(t, testContainerLifecycle) }

func testContainerLifecycle(t *testing.T, kind string) {
	e := newEnv(t, kind, nil)
	before := time.Now().Add(-time.Second)
	c := e.create(admin, map[string]any{
		"image":  "berth/demo",
		"name":   "life-" + e.instance[len(e.instance)-10:],
		"env":    map[string]string{"GREETING": "hi"},
		"labels": map[string]string{"course": "go-101"},
	})

	// The seed's fields, with the seed's types.
	if c.Status != "running" || c.Active != "0" || c.Image != "berth/demo:latest" {
		t.Errorf("created: status %q active %q image %q; want running, \"0\", berth/demo:latest", c.Status, c.Active, c.Image)
	}
	if !engineID[kind].MatchString(c.ContainerID) || c.ID != c.ContainerID || c.URI != "/v1/containers/"+c.ID {
		t.Errorf("created: container_id %q id %q uri %q; want the engine's id and its uri", c.ContainerID, c.ID, c.URI)
	}
	if c.SSHPort == "" || c.AppPort == "" || c.SSHPort == c.AppPort {
		t.Errorf("created: ssh_port %q app_port %q; want two host ports", c.SSHPort, c.AppPort)
	}
	// Berth's own fields.
	if c.Owner != "admin" || c.CreatedAt.Before(before) || c.LastActivity == nil || c.LastActivity.Before(before) {
		t.Errorf("created: owner %q created %v last activity %v", c.Owner, c.CreatedAt, c.LastActivity)
	}
	if fmt.Sprint(c.Ports["22"]) != c.SSHPort || fmt.Sprint(c.Ports["8080"]) != c.AppPort || len(c.Ports) != 2 {
		t.Errorf("ports %v do not match ssh_port %s and app_port %s", c.Ports, c.SSHPort, c.AppPort)
	}
	if c.URL != "http://localhost:"+c.AppPort || c.Labels["course"] != "go-101" || c.IdleTimeout != "2h30m0s" {
		t.Errorf("url %q labels %v idle %q", c.URL, c.Labels, c.IdleTimeout)
	}
	// The app answers on app_port with the env it was given.
	if got := httpGet(t, "http://"+e.app(c.AppPort)+"/env/GREETING"); got != "hi" {
		t.Errorf("app says %q, want the env value", got)
	}

	// GET by id and by name; the list has it.
	for _, ref := range []string{c.ID, c.Name} {
		if got := e.get(admin, ref); got.ID != c.ID || got.Status != "running" {
			t.Errorf("GET %s = %+v", ref, got)
		}
	}
	var list []container
	e.do("GET", "/v1/containers", admin, nil).decode(t, &list)
	if len(list) != 1 || list[0].ID != c.ID {
		t.Errorf("list = %+v, want just %s", list, c.ID)
	}

	// Stop: acknowledged at once as "stopping", later "stopped" without ports.
	// The body is JSON labelled as a form, as `curl -d '{...}'` sends it.
	req := e.request("PATCH", "/v1/containers/"+c.ID, admin, `{"status":"stopped"}`)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := e.send(req)
	var stopping container
	resp.decode(t, &stopping)
	if resp.code != http.StatusOK || stopping.Status != "stopping" {
		t.Fatalf("PATCH stopped: %s", resp)
	}
	stopped := e.waitFor(admin, c.ID, "stopped", func(c container) bool { return c.Status == "stopped" })
	if stopped.SSHPort != "" || stopped.AppPort != "" || len(stopped.Ports) != 0 || stopped.URL != "" {
		t.Errorf("stopped container still shows ports: %+v", stopped)
	}

	// Start again (by form, as spin-docker clients do): running, with ports.
	resp = e.do("PATCH", "/v1/containers/"+c.Name, admin, url.Values{"status": {"running"}})
	var running container
	resp.decode(t, &running)
	if resp.code != http.StatusOK || running.Status != "running" || running.AppPort == "" || running.SSHPort == "" {
		t.Fatalf("PATCH running: %s", resp)
	}

	// Delete: 204, then gone.
	if resp := e.do("DELETE", "/v1/containers/"+c.ID, admin, nil); resp.code != http.StatusNoContent || len(resp.body) != 0 {
		t.Fatalf("DELETE: %s", resp)
	}
	if resp := e.do("GET", "/v1/containers/"+c.ID, admin, nil); resp.code != http.StatusNotFound {
		t.Errorf("GET after DELETE: %s", resp)
	}
}

// TestSpinDockerClient is the seed's own curl example: a form post with HTTP
// Basic admin credentials.
func TestSpinDockerClient(t *testing.T) { eachDriver(t, testSpinDockerClient) }

func testSpinDockerClient(t *testing.T, kind string) {
	e := newEnv(t, kind, nil)
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/containers", strings.NewReader("image=berth/demo"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("admin", adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("curl -u admin:<token> -d image=berth/demo: %s", resp.Status)
	}
	var images []string
	e.do("GET", "/v1/images", "Basic "+basic("admin", adminToken), nil).decode(t, &images)
	if !contains(images, "berth/demo:latest") {
		t.Errorf("GET /v1/images = %v, want berth/demo:latest", images)
	}
	if r := e.do("GET", "/v1/images", "Basic "+basic("admin", "spindocker"), nil); r.code != http.StatusUnauthorized {
		t.Errorf("the seed's default password works: %s", r)
	}
}

func TestOwnerIsolation(t *testing.T) { eachDriver(t, testOwnerIsolation) }

func testOwnerIsolation(t *testing.T, kind string) {
	e := newEnv(t, kind, nil)
	aliceID, alice := e.newUser()
	_, bob := e.newUser()
	mine := e.create(alice, map[string]string{"image": "berth/demo"})
	if mine.Owner != aliceID {
		t.Errorf("owner = %q, want %q", mine.Owner, aliceID)
	}
	theirs := e.create(bob, map[string]string{"image": "berth/demo"})

	var list []container
	e.do("GET", "/v1/containers", alice, nil).decode(t, &list)
	if len(list) != 1 || list[0].ID != mine.ID {
		t.Errorf("alice's list = %+v, want only her container", list)
	}
	for _, req := range []struct{ method, body string }{{"GET", ""}, {"PATCH", `{"status":"stopped"}`}, {"DELETE", ""}} {
		for _, ref := range []string{theirs.ID, theirs.Name} {
			var body any
			if req.body != "" {
				body = req.body
			}
			if r := e.do(req.method, "/v1/containers/"+ref, alice, body); r.code != http.StatusNotFound {
				t.Errorf("alice %s bob's %s: %s, want 404", req.method, ref, r)
			}
		}
	}
	if got := e.get(bob, theirs.ID); got.Status != "running" {
		t.Errorf("bob's container after alice's attempts: %s, want running", got.Status)
	}
	e.do("GET", "/v1/containers", admin, nil).decode(t, &list)
	if len(list) != 2 {
		t.Errorf("admin sees %d containers, want 2", len(list))
	}
	var me struct {
		ID    string
		Admin bool
	}
	e.do("GET", "/v1/users/me", alice, nil).decode(t, &me)
	if me.ID != aliceID || me.Admin {
		t.Errorf("alice's /v1/users/me = %+v", me)
	}
}

func TestListFilters(t *testing.T) { eachDriver(t, testListFilters) }

func testListFilters(t *testing.T, kind string) {
	e := newEnv(t, kind, nil)
	a := e.create(admin, map[string]any{"image": "berth/demo", "labels": map[string]string{"course": "a"}})
	b := e.create(admin, map[string]any{"image": "berth/demo", "labels": map[string]string{"course": "b"}})
	if r := e.do("DELETE", "/v1/containers/"+b.ID, admin, nil); r.code != http.StatusNoContent {
		t.Fatal(r)
	}
	c := e.create(admin, map[string]any{"image": "berth/demo", "labels": map[string]string{"course": "b"}})
	e.do("PATCH", "/v1/containers/"+c.ID, admin, `{"status":"stopped"}`)
	e.waitFor(admin, c.ID, "stopped", func(c container) bool { return c.Status == "stopped" })

	for query, want := range map[string]string{
		"?label=course=a":                a.ID,
		"?label=course=b":                c.ID,
		"?status=stopped":                c.ID,
		"?status=running&label=course=a": a.ID,
	} {
		var list []container
		e.do("GET", "/v1/containers"+query, admin, nil).decode(t, &list)
		if len(list) != 1 || list[0].ID != want {
			t.Errorf("GET /v1/containers%s = %d containers, want just %s", query, len(list), want)
		}
	}
}

func TestHardenedByConfig(t *testing.T) {
	e := newEnv(t, "docker", func(cfg *api.Config) { cfg.Memory, cfg.CPUs, cfg.Pids = "96m", 0.25, 50 })
	c := e.create(admin, map[string]string{"image": "berth/demo"})
	info, err := e.cli.ContainerInspect(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	r := info.HostConfig.Resources
	if r.Memory != 96<<20 || r.NanoCPUs != 250_000_000 || r.PidsLimit == nil || *r.PidsLimit != 50 {
		t.Errorf("limits: memory %d cpus %d pids %v; want the configured 96m, 0.25, 50", r.Memory, r.NanoCPUs, r.PidsLimit)
	}
	if info.HostConfig.Privileged || len(info.HostConfig.CapDrop) != 1 || info.HostConfig.CapDrop[0] != "ALL" {
		t.Errorf("not hardened: %+v", info.HostConfig)
	}
	env := strings.Join(info.Config.Env, "\n")
	if !strings.Contains(env, "BERTH_CHECKIN_TOKEN=berth_c_") || !strings.Contains(env, "BERTH_CHECKIN_URL=http://") {
		t.Errorf("container env lacks the check-in settings:\n%s", env)
	}
	if strings.Contains(fmt.Sprint(info.Config.Labels), strings.SplitN(strings.SplitN(env, "BERTH_CHECKIN_TOKEN=", 2)[1], "\n", 2)[0]) {
		t.Error("the check-in token is stored in a label; only its hash may be")
	}
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(u)
		if err == nil {
			b := new(strings.Builder)
			_, err = bufio.NewReader(resp.Body).WriteTo(b)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				return b.String()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", u, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
