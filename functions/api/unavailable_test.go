package api_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"berth/driver"
	"berth/driver/connect"
	"berth/driver/drivertest"
	"berth/functions/api"
)

// socketProxy forwards a unix socket to the real engine's, and can be cut
// and restored: an engine that goes away and comes back.
type socketProxy struct {
	path, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

func (p *socketProxy) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *socketProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close() // also removes the socket file
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestEngineGoesAwayAndComesBack(t *testing.T) {
	cli := drivertest.Engine(t)
	instance := drivertest.Instance(t, cli)
	target, ok := strings.CutPrefix(cli.DaemonHost(), "unix://")
	if !ok {
		t.Fatalf("this test proxies a unix socket; the engine is at %s", cli.DaemonHost())
	}
	proxy := &socketProxy{path: filepath.Join(t.TempDir(), "engine.sock"), target: target}
	proxy.up(t)
	t.Cleanup(proxy.down)
	d := openDriver(t, connect.Config{Host: "unix://" + proxy.path}, instance)
	e := newEnvWith(t, envOptions{cli: cli, instance: instance, driver: d}, func(cfg *api.Config) { cfg.RequestTimeout = 3 * time.Second })

	if r := e.do("GET", "/v1/containers", admin, nil); r.code != http.StatusOK {
		t.Fatalf("engine up: %s", r)
	}
	proxy.down()
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/v1/containers", ""},
		{"POST", "/v1/containers", `{"image":"berth/demo"}`},
		{"GET", "/v1/images", ""},
	} {
		began := time.Now()
		var body any
		if req.body != "" {
			body = req.body
		}
		r := e.do(req.method, req.path, admin, body)
		if r.code != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Errorf("engine down: %s %s = %s (Retry-After %q), want 503 with Retry-After", req.method, req.path, r, r.header.Get("Retry-After"))
		}
		if took := time.Since(began); took > 3*time.Second+500*time.Millisecond {
			t.Errorf("engine down: %s %s took %v, past the request timeout", req.method, req.path, took)
		}
	}
	// What cannot name anything is answered without the engine: 404, not 503.
	for _, path := range []string{"/v1/containers/a%20b", "/v1/containers/" + strings.Repeat("x", 64), "/v1/services/..%2Fetc", "/service/a%00b/status"} {
		if r := e.do("GET", path, admin, nil); r.code != http.StatusNotFound {
			t.Errorf("engine down: GET %s = %s, want 404 without asking the engine", path, r)
		}
	}
	if r := e.do("GET", "/v1/containers?label=k="+strings.Repeat("v", 300), admin, nil); r.code != http.StatusBadRequest {
		t.Errorf("engine down: an oversized label filter = %s, want 400", r)
	}
	proxy.up(t)
	if r := e.do("GET", "/v1/containers", admin, nil); r.code != http.StatusOK {
		t.Fatalf("engine back: %s", r)
	}
	if got := drivertest.Snapshot(t, cli, instance); got != "" {
		t.Errorf("requests while the engine was down left containers: %s", got)
	}
}

// TestEngineThatNeverAnswers: an engine that accepts connections and then
// says nothing costs a request its timeout and a 503, never a hang.
func TestEngineThatNeverAnswers(t *testing.T) {
	cli := drivertest.Engine(t)
	instance := drivertest.Instance(t, cli)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	d := openDriver(t, connect.Config{Host: "tcp://" + ln.Addr().String(), AllowPlaintext: true}, instance)
	e := newEnvWith(t, envOptions{cli: cli, instance: instance, driver: hideHost(d)}, func(cfg *api.Config) { cfg.RequestTimeout = time.Second })
	began := time.Now()
	r := e.do("GET", "/v1/containers", admin, nil)
	if r.code != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("silent engine: %s, want 503 with Retry-After", r)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("silent engine: took %v for a 1s request timeout", took)
	}
}

func openDriver(t *testing.T, cfg connect.Config, instance string) driver.Driver {
	t.Helper()
	cfg.DialTimeout, cfg.CallTimeout = 2*time.Second, 10*time.Second
	cli, err := connect.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return drivertest.DockerDriver(t, cli, instance)
}

// hideHost hides the driver's HostAddresser, whose network cannot be
// reached on a silent engine: the server then listens on loopback.
func hideHost(d driver.Driver) driver.Driver { return struct{ driver.Driver }{d} }

// panicky is a driver whose List panics: a bug, as far as the API knows.
type panicky struct{ driver.Driver }

func (panicky) List(context.Context, driver.Filter) ([]*driver.Container, error) {
	panic("driver bug")
}

func TestPanicIsA500(t *testing.T) {
	cli := drivertest.Engine(t)
	instance := drivertest.Instance(t, cli)
	d := openDriver(t, drivertest.EngineConfig(t), instance)
	e := newEnvWith(t, envOptions{cli: cli, instance: instance, driver: panicky{d}}, nil)
	r := e.do("GET", "/v1/containers", admin, nil)
	var body api.Error
	r.decode(t, &body)
	if r.code != http.StatusInternalServerError || body.Code != 500 || body.Message != "internal error" {
		t.Errorf("panicking handler: %s, want a JSON 500", r)
	}
	if r := e.do("GET", "/v1/users/me", admin, nil); r.code != http.StatusOK {
		t.Errorf("after a panic: %s, want the server still serving", r)
	}
}
