package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"berth/driver/drivertest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// berthBinary is the berth binary built from this package for the tests.
var berthBinary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "berth-bin-")
	if err != nil {
		panic(err)
	}
	berthBinary = filepath.Join(dir, "berth")
	if out, err := exec.Command("go", "build", "-o", berthBinary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build berth: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestUsage(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "usage.golden")
	if *update {
		os.WriteFile(golden, out.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("berth -h changed (go test ./local -update to accept):\n%s", out.String())
	}
	for _, key := range []string{"PORT", "DOCKER_HOST", "BERTH_ADMIN_TOKEN", "BERTH_IMAGES", "BERTH_IDLE_TIMEOUT", "SWARM_CREDS_DIR"} {
		if !strings.Contains(out.String(), "  "+key) {
			t.Errorf("berth -h does not describe %s", key)
		}
	}
}

// berth is one running berth process.
type berth struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	stdout *syncBuffer
	stderr *syncBuffer
	exited chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// engineEnv is what every berth under test gets: its own instance and
// network, the test engine, and nothing from the developer's environment.
func engineEnv(t *testing.T) []string {
	cli := drivertest.Engine(t)
	instance := drivertest.Instance(t, cli)
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"DOCKER_HOST=" + cli.DaemonHost(),
		"BERTH_INSTANCE=" + instance,
		"BERTH_NETWORK=berth-" + instance,
		"BERTH_LOG_FORMAT=json",
		"PORT=0",
	}
}

// startBerth starts the binary in dir and waits until it listens.
func startBerth(t *testing.T, dir string, env []string) *berth {
	t.Helper()
	b := &berth{t: t, stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan error, 1)}
	b.cmd = exec.Command(berthBinary)
	b.cmd.Dir, b.cmd.Env, b.cmd.Stdout = dir, env, b.stdout
	logs, err := b.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			b.stderr.Write(append(sc.Bytes(), '\n'))
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "berth listening" {
				listening <- line.Addr
			}
		}
		b.exited <- b.cmd.Wait()
	}()
	t.Cleanup(func() { b.cmd.Process.Kill() })
	select {
	case addr := <-listening:
		_, port, _ := net.SplitHostPort(addr)
		b.url = "http://127.0.0.1:" + port
	case err := <-b.exited:
		t.Fatalf("berth exited: %v\n%s", err, b.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("berth did not start listening:\n%s", b.stderr)
	}
	return b
}

// stop sends SIGTERM and expects a clean exit.
func (b *berth) stop() {
	b.t.Helper()
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-b.exited:
		if err != nil {
			b.t.Errorf("berth exited with %v after SIGTERM:\n%s", err, b.stderr)
		}
	case <-time.After(40 * time.Second):
		b.t.Fatalf("berth did not exit after SIGTERM")
	}
}

// call sends a request with a bearer token and returns the status and body.
func (b *berth) call(method, path, token, contentType, body string) (int, []byte) {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.url+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// TestFirstStart: with no admin token set, the first start generates one,
// keeps it in the state directory (0600) and prints it once with a curl
// line; the next start uses the same token and prints nothing.
func TestFirstStart(t *testing.T) {
	dir, env := t.TempDir(), engineEnv(t)
	b := startBerth(t, dir, env)
	tokenBytes, err := os.ReadFile(filepath.Join(dir, ".berth", "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tokenBytes))
	if info, _ := os.Stat(filepath.Join(dir, ".berth", "admin-token")); info.Mode().Perm() != 0o600 {
		t.Errorf("admin-token mode %v, want 0600", info.Mode().Perm())
	}
	curl := "curl -H 'Authorization: Bearer " + token + "'"
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(b.stdout.String(), curl) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // stdout arrives through its own pipe
	}
	if len(token) < 40 || !strings.Contains(b.stdout.String(), curl) {
		t.Errorf("first start printed %q; want the token %q in a curl line", b.stdout, token)
	}
	if code, body := b.call("GET", "/v1/users/me", token, "", ""); code != 200 || !strings.Contains(string(body), `"admin":true`) {
		t.Errorf("/v1/users/me with the generated token: %d %s", code, body)
	}
	if code, _ := b.call("GET", "/v1/users/me", "", "", ""); code != 401 {
		t.Errorf("/v1/users/me without a token: %d, want 401", code)
	}
	b.stop()

	again := startBerth(t, dir, env)
	if strings.Contains(again.stdout.String(), token) {
		t.Error("the second start printed the token again")
	}
	if code, _ := again.call("GET", "/v1/users/me", token, "", ""); code != 200 {
		t.Errorf("the generated token after a restart: %d, want 200", code)
	}
	again.stop()
}

// TestDotEnv: a .env file in the working directory configures berth, and
// the real environment wins over it.
func TestDotEnv(t *testing.T) {
	dir, env := t.TempDir(), engineEnv(t)
	dotenv := "BERTH_ADMIN_TOKEN=from-dotenv-0123456789\nBERTH_SECRET=from-dotenv-secret-0123456789abcdef\nBERTH_LOG_FORMAT=text\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	b := startBerth(t, dir, env) // env's BERTH_LOG_FORMAT=json wins: startBerth reads JSON logs
	if code, _ := b.call("GET", "/v1/users/me", "from-dotenv-0123456789", "", ""); code != 200 {
		t.Errorf("token from .env: %d, want 200", code)
	}
	if _, err := os.Stat(filepath.Join(dir, ".berth", "admin-token")); err == nil {
		t.Error("berth generated a token although .env set one")
	}
	b.stop()
}

func TestBadConfigRefused(t *testing.T) {
	env := engineEnv(t)
	for setting, message := range map[string]string{
		"BERTH_MEMORY=1k":                  "BERTH_MEMORY",
		"BERTH_IMAGES=[":                   "BERTH_IMAGES",
		"BERTH_CAP_ADD=SYS_ADMIN":          "SYS_ADMIN",
		"BERTH_ADMIN_TOKEN=short":          "BERTH_ADMIN_TOKEN",
		"DOCKER_HOST=tcp://127.0.0.1:2375": "no TLS",
		"BERTH_DRIVER=kubernetes":          "unknown driver",
		"BERTH_IDLE_TIMEOUT=forever":       "BERTH_IDLE_TIMEOUT",
	} {
		cmd := exec.Command(berthBinary)
		cmd.Dir, cmd.Env = t.TempDir(), append(append([]string(nil), env...), setting)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), message) {
			t.Errorf("%s: %v, %q; want a refusal naming %s", setting, err, out, message)
		}
	}
}

// TestWalkthrough is the README's curl walk-through against the real
// binary: create (a form, as the seed's curl does), list, check in from the
// container, stop, start, delete; then idle culling on the ticker.
func TestWalkthrough(t *testing.T) {
	dir := t.TempDir()
	env := append(engineEnv(t), "BERTH_ADMIN_TOKEN=walkthrough-token-0123", "BERTH_SECRET=walkthrough-secret-0123456789abcdef", "BERTH_RECONCILE_INTERVAL=300ms")
	b := startBerth(t, dir, env)
	const token = "walkthrough-token-0123"
	get := func(ref string) map[string]any {
		code, body := b.call("GET", "/v1/containers/"+ref, token, "", "")
		var c map[string]any
		if code != 200 || json.Unmarshal(body, &c) != nil {
			t.Fatalf("GET %s: %d %s", ref, code, body)
		}
		return c
	}
	waitFor := func(ref, key, want string) map[string]any {
		deadline := time.Now().Add(30 * time.Second)
		for {
			c := get(ref)
			if c[key] == want {
				return c
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never had %s=%s: %v\n%s", ref, key, want, c, b.stderr)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	code, body := b.call("POST", "/v1/containers", token, "application/json", `{"image":"berth/demo","env":{"CHECKIN_INTERVAL":"300ms"}}`)
	var c map[string]any
	if code != 201 || json.Unmarshal(body, &c) != nil {
		t.Fatalf("create: %d %s", code, body)
	}
	id := c["id"].(string)
	if code, body := b.call("GET", "/v1/containers", token, "", ""); code != 200 || !strings.Contains(string(body), id) {
		t.Errorf("list: %d %s", code, body)
	}
	conn := drivertest.HoldConnection(t, "127.0.0.1:"+c["app_port"].(string))
	waitFor(id, "active", "1") // the demo checked in, through the gateway, with its token
	conn.Close()

	if code, body := b.call("PATCH", "/v1/containers/"+id, token, "application/json", `{"status":"stopped"}`); code != 200 || !strings.Contains(string(body), `"status":"stopping"`) {
		t.Errorf("stop: %d %s", code, body)
	}
	waitFor(id, "status", "stopped")
	if code, body := b.call("PATCH", "/v1/containers/"+id, token, "application/json", `{"status":"running"}`); code != 200 || !strings.Contains(string(body), `"status":"running"`) {
		t.Errorf("start: %d %s", code, body)
	}
	if code, body := b.call("DELETE", "/v1/containers/"+id, token, "", ""); code != 204 {
		t.Errorf("delete: %d %s", code, body)
	}

	// Culling on the ticker: a container with a 10s idle timeout and no
	// client is stopped a little after 10s.
	code, body = b.call("POST", "/v1/containers", token, "application/x-www-form-urlencoded", "image=berth/demo&idle_timeout=10s")
	if code != 201 || json.Unmarshal(body, &c) != nil {
		t.Fatalf("create: %d %s", code, body)
	}
	idle := c["id"].(string)
	waitFor(idle, "status", "stopped")
	if !strings.Contains(b.stderr.String(), "culled idle container") {
		t.Errorf("no cull in the log:\n%s", b.stderr)
	}
	b.stop()
}
