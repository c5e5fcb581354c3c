package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"berth/driver"
	"berth/driver/connect"
	"berth/driver/drivertest"
	"berth/functions/api"
	"berth/infra/engine"

	"github.com/docker/docker/client"
	"github.com/kelseyhightower/envconfig"
)

const (
	adminToken = "test-admin-token-0123456789"
	secret     = "test-secret-0123456789abcdef0123456789"
)

// privateSwarm is this package's one-node swarm, reached over TLS: every
// container test runs against both drivers. The fuzz targets start none.
var privateSwarm = &drivertest.PrivateEngine{Options: engine.Options{TLS: true, Swarm: true}}

func TestMain(m *testing.M) { os.Exit(privateSwarm.Run(m)) }

// drivers are the drivers the API tests run against.
var drivers = []string{"docker", "swarm"}

// eachDriver runs test once per driver, in parallel.
func eachDriver(t *testing.T, test func(t *testing.T, kind string)) {
	for _, kind := range drivers {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			test(t, kind)
		})
	}
}

// env is one API on a real engine, under a run-unique instance, served
// where the containers can check in.
type env struct {
	t        testing.TB
	api      *api.API
	driver   driver.Driver
	srv      *httptest.Server
	cli      *client.Client
	instance string
	portHost string // where the test reaches containers' published ports
}

// testConfig is the API config of the tests: envconfig's defaults with the
// secrets set, as a deployment would have it.
func testConfig(t testing.TB) api.Config {
	var cfg api.Config
	if err := envconfig.Process("berth_test_unset", &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.AdminToken, cfg.Secret = adminToken, secret
	cfg.Memory, cfg.Pids = "64m", 64
	cfg.StopTimeout = 2 * time.Second
	return cfg
}

// newEnv serves the API with the kind of driver: "docker" on the machine's
// engine, "swarm" on the private swarm over TLS.
func newEnv(t testing.TB, kind string, mutate func(*api.Config)) *env {
	t.Helper()
	switch kind {
	case "docker":
		cli := drivertest.Engine(t)
		instance := drivertest.Instance(t, cli)
		return newEnvWith(t, envOptions{cli: cli, instance: instance, driver: drivertest.DockerDriver(t, cli, instance), portHost: "127.0.0.1"}, mutate)
	case "swarm":
		swarmEngine := privateSwarm.Get(t)
		cfg := connect.Config{Driver: "swarm", Host: swarmEngine.TCPHost, CertPath: swarmEngine.CertDir, DialTimeout: 5 * time.Second, CallTimeout: 30 * time.Second}
		cli := drivertest.Connect(t, cfg)
		cfg.Instance = drivertest.Instance(t, cli)
		cfg.Network = "berth-" + cfg.Instance
		d, err := connect.Open(cfg, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return newEnvWith(t, envOptions{cli: cli, instance: cfg.Instance, driver: d, listenHost: swarmEngine.HostIP, portHost: swarmEngine.IP}, mutate)
	}
	t.Fatalf("no driver %q", kind)
	return nil
}

type envOptions struct {
	cli        *client.Client
	instance   string
	driver     driver.Driver
	listenHost string // "": the driver's HostAddress, else loopback
	portHost   string
}

func newEnvWith(t testing.TB, o envOptions, mutate func(*api.Config)) *env {
	t.Helper()
	// Listen where containers can reach us: the gateway of their network.
	host := o.listenHost
	if h, ok := o.driver.(driver.HostAddresser); ok && host == "" {
		gw, err := h.HostAddress(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		host = gw
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	if _, ok := o.driver.(driver.HostAddresser); !ok {
		cfg.CheckinURL = "http://" + ln.Addr().String() + "/v1/check-in"
	}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := api.New(cfg, api.Options{
		Driver: o.driver,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Port:   ln.Addr().(*net.TCPAddr).Port,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		a.Close(ctx)
	})
	return &env{t: t, api: a, driver: o.driver, srv: srv, cli: o.cli, instance: o.instance, portHost: o.portHost}
}

// app is the address of a container's published port on this env.
func (e *env) app(port string) string { return net.JoinHostPort(e.portHost, port) }

type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r *response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d %q: %v", r.code, r.body, err)
	}
}

func (r *response) String() string { return strconv.Itoa(r.code) + " " + string(r.body) }

// do sends a request. body is a string (sent as is, JSON), url.Values (a
// form), nil, or anything else (marshalled to JSON). auth is the whole
// Authorization header.
func (e *env) do(method, path, auth string, body any) *response {
	e.t.Helper()
	return e.send(e.request(method, path, auth, body))
}

func (e *env) request(method, path, auth string, body any) *http.Request {
	e.t.Helper()
	var rd io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, contentType = strings.NewReader(b), "application/json"
	case url.Values:
		rd, contentType = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd, contentType = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return req
}

func (e *env) send(req *http.Request) *response {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return &response{code: resp.StatusCode, header: resp.Header, body: raw}
}

const admin = "Bearer " + adminToken

// container is the API's container object as a client reads it.
type container struct {
	Status       string            `json:"status"`
	Name         string            `json:"name"`
	Active       string            `json:"active"`
	SSHPort      string            `json:"ssh_port"`
	AppPort      string            `json:"app_port"`
	Image        string            `json:"image"`
	ContainerID  string            `json:"container_id"`
	URI          string            `json:"uri"`
	ID           string            `json:"id"`
	Owner        string            `json:"owner"`
	CreatedAt    time.Time         `json:"created_at"`
	LastActivity *time.Time        `json:"last_activity"`
	IdleTimeout  string            `json:"idle_timeout"`
	Ports        map[string]int    `json:"ports"`
	URL          string            `json:"url"`
	Labels       map[string]string `json:"labels"`
}

// create spawns a container through the API and fails the test otherwise.
func (e *env) create(auth string, body any) container {
	e.t.Helper()
	resp := e.do("POST", "/v1/containers", auth, body)
	if resp.code != http.StatusCreated {
		e.t.Fatalf("create: %s", resp)
	}
	var c container
	resp.decode(e.t, &c)
	return c
}

func (e *env) get(auth, ref string) container {
	e.t.Helper()
	resp := e.do("GET", "/v1/containers/"+ref, auth, nil)
	if resp.code != http.StatusOK {
		e.t.Fatalf("get %s: %s", ref, resp)
	}
	var c container
	resp.decode(e.t, &c)
	return c
}

// newUser makes a user through the API and returns its Authorization header.
func (e *env) newUser() (id, auth string) {
	e.t.Helper()
	resp := e.do("POST", "/v1/users", admin, nil)
	var u struct{ ID, Token string }
	resp.decode(e.t, &u)
	if resp.code != http.StatusCreated || u.ID == "" || u.Token == "" {
		e.t.Fatalf("create user: %s", resp)
	}
	return u.ID, "Bearer " + u.Token
}

// waitFor polls until cond holds for the container or time runs out.
func (e *env) waitFor(auth, ref string, what string, cond func(container) bool) container {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := e.get(auth, ref)
		if cond(c) {
			return c
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("container %s never became %s: %+v", ref, what, c)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func basic(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func itoa(n int) string { return strconv.Itoa(n) }
