package lambdafn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"berth/driver/connect"
	"berth/driver/drivertest"
	"berth/functions/api"
	"berth/functions/lambdafn"
	"berth/infra/engine"

	"github.com/aws/aws-lambda-go/events"
	"github.com/docker/docker/api/types/swarm"
	"github.com/kelseyhightower/envconfig"
)

var (
	// private is the swarm the functions drive, over TLS, as in production.
	private = &drivertest.PrivateEngine{Options: engine.Options{TLS: true, Swarm: true}}
	// binDir holds every function's bootstrap, built for this host.
	binDir string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-fn-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", binDir+"/", "../...")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the functions: %v\n%s", err, out)
		os.Exit(1)
	}
	code := private.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	adminToken = "lambda-admin-token-0123456789"
	domain     = "r4nd0m1d.execute-api.eu-west-1.amazonaws.com"
)

// functionEnv is the environment template.yaml gives every function,
// pointing at the test swarm: the TLS material as PEM contents, since a
// Lambda function has no certificate directory.
func functionEnv(t testing.TB, instance string) []string {
	eng := private.Get(t)
	pem := func(name string) string {
		b, err := os.ReadFile(filepath.Join(eng.CertDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	return []string{
		"BERTH_DRIVER=swarm",
		"DOCKER_HOST=" + eng.TCPHost,
		"BERTH_TLS_CA=" + pem("ca.pem"),
		"BERTH_TLS_CERT=" + pem("cert.pem"),
		"BERTH_TLS_KEY=" + pem("key.pem"),
		"BERTH_ADMIN_TOKEN=" + adminToken,
		"BERTH_SECRET=lambda-hmac-secret-0123456789abcdef",
		"BERTH_PUBLIC_HOST=" + eng.IP,
		"BERTH_INSTANCE=" + instance,
		"BERTH_NETWORK=berth-" + instance,
		"BERTH_MEMORY=64m",
		"BERTH_PIDS=64",
		"BERTH_STOP_TIMEOUT=2s",
		"BERTH_REQUEST_TIMEOUT=25s",
	}
}

// localServer is the local binary's answer to the same requests: the same
// handlers, configured from the same environment, on a net/http server.
func localServer(t *testing.T, env []string) *httptest.Server {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	var cfg lambdafn.Config
	if err := envconfig.Process("", &cfg); err != nil {
		t.Fatal(err)
	}
	d, err := connect.Open(cfg.EngineConfig, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	a, err := api.New(cfg.APIConfig, api.Options{Driver: d, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), CheckinFromHost: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return srv
}

// request is one HTTP request, sent as an API Gateway event to a function
// and as itself to the local server.
type request struct {
	route  string // the function, functions/<route>
	method string
	path   string // with the query
	auth   string // the Authorization header
	body   string
}

// event turns r into API Gateway HTTP API (payload 2.0) event JSON, from the
// fixture in testdata.
func (r request) event(t testing.TB) []byte {
	raw, err := os.ReadFile("testdata/http-api-v2-request.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	route := routeOf(t, r.route)
	path, query, _ := strings.Cut(r.path, "?")
	ev.RouteKey, ev.RawPath, ev.RawQueryString = route.Method+" "+route.Path, path, query
	ev.RequestContext.RouteKey = ev.RouteKey
	ev.RequestContext.HTTP.Method, ev.RequestContext.HTTP.Path = r.method, path
	ev.PathParameters = pathParameters(route.Path, path)
	ev.Headers["content-length"] = strconv.Itoa(len(r.body))
	if r.auth != "" {
		ev.Headers["authorization"] = r.auth
	}
	if r.body != "" {
		ev.Headers["content-type"] = "application/json"
		ev.Body = r.body
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pathParameters matches a pattern ("/v1/containers/{id}") to a path.
func pathParameters(pattern, path string) map[string]string {
	params := map[string]string{}
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	for i := range ps {
		if i < len(xs) && strings.HasPrefix(ps[i], "{") {
			params[strings.Trim(ps[i], "{}")] = xs[i]
		}
	}
	return params
}

func routeOf(t testing.TB, name string) api.Route {
	for _, r := range api.Routes() {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no route %q", name)
	return api.Route{}
}

// answer is a response reduced to what a client sees.
type answer struct {
	code    int
	headers map[string]string // the ones that matter, values joined by ","
	body    string
}

var headersThatMatter = []string{"Content-Type", "Location", "Allow", "Retry-After", "Www-Authenticate"}

func (a answer) String() string { return fmt.Sprintf("%d %v %s", a.code, a.headers, a.body) }

// harness runs requests through the functions (one warm process each) and
// through the local server, and compares the answers.
type harness struct {
	t     *testing.T
	env   []string
	local *httptest.Server
	fns   map[string]*function
}

func (h *harness) function(name string) *function {
	if f := h.fns[name]; f != nil {
		return f
	}
	f := startFunction(h.t, name, h.env)
	f.waitReady(h.t)
	h.fns[name] = f
	return f
}

func (h *harness) viaLambda(r request) answer {
	h.t.Helper()
	out := h.function(r.route).invoke(h.t, r.event(h.t))
	if out.err != nil {
		h.t.Fatalf("%s %s: the function failed: %s", r.method, r.path, out.err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out.response, &resp); err != nil {
		h.t.Fatalf("%s %s: response %s: %v", r.method, r.path, out.response, err)
	}
	a := answer{code: resp.StatusCode, headers: map[string]string{}, body: resp.Body}
	for k, v := range resp.Headers {
		for _, want := range headersThatMatter {
			if strings.EqualFold(k, want) {
				a.headers[want] = v
			}
		}
	}
	return a
}

func (h *harness) viaLocal(r request) answer {
	h.t.Helper()
	req, err := http.NewRequest(r.method, h.local.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Host = domain // as API Gateway's host: the default check-in URL follows it
	if r.auth != "" {
		req.Header.Set("Authorization", r.auth)
	}
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, headers: map[string]string{}, body: string(body)}
	for _, k := range headersThatMatter {
		if vs := resp.Header.Values(k); len(vs) > 0 {
			a.headers[k] = strings.Join(vs, ",")
		}
	}
	return a
}

// same sends r both ways and requires identical answers with status code.
func (h *harness) same(r request, code int) answer {
	h.t.Helper()
	lambda, local := h.viaLambda(r), h.viaLocal(r)
	if lambda.code != code {
		h.t.Errorf("%s %s via Lambda: %s, want %d", r.method, r.path, lambda, code)
	}
	if fmt.Sprint(lambda) != fmt.Sprint(local) {
		h.t.Errorf("%s %s: Lambda and local answers differ:\nlambda %s\nlocal  %s", r.method, r.path, lambda, local)
	}
	return lambda
}

// alike sends one request through the function and its twin (acting on the
// twin's own object) to the local server, and requires answers that are the
// same once each side's own names are replaced and times and ports blanked.
func (h *harness) alike(lambda, local request, code int, lambdaNames, localNames []string) (answer, answer) {
	h.t.Helper()
	a, b := h.viaLambda(lambda), h.viaLocal(local)
	if a.code != code {
		h.t.Errorf("%s %s via Lambda: %s, want %d", lambda.method, lambda.path, a, code)
	}
	na, nb := normalize(a, lambdaNames), normalize(b, localNames)
	if na != nb {
		h.t.Errorf("%s %s: Lambda and local answers differ:\nlambda %s\nlocal  %s", lambda.method, lambda.path, na, nb)
	}
	return a, b
}

// normalize replaces names with placeholders and blanks what differs
// between two objects made alike: times, host ports, tokens. The answer's
// own "id" and "name" count among the names.
func normalize(a answer, names []string) string {
	var body any
	isJSON := json.Unmarshal([]byte(a.body), &body) == nil
	if obj, ok := body.(map[string]any); ok {
		for _, k := range []string{"id", "name"} {
			if s, ok := obj[k].(string); ok {
				names = append(names, s)
			}
		}
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	replace := func(s string) string {
		for _, n := range names {
			if n != "" {
				s = strings.ReplaceAll(s, n, "<name>")
			}
		}
		return s
	}
	text := a.body
	if isJSON {
		raw, _ := json.Marshal(blank(body))
		text = string(raw)
	}
	return fmt.Sprintf("%d %s %s", a.code, replace(fmt.Sprint(a.headers)), replace(text))
}

// volatile are the fields two alike objects differ in; "ports" only where
// it maps container ports to host ports.
var volatile = map[string]bool{"created_at": true, "updated_at": true, "last_activity": true,
	"ssh_port": true, "app_port": true, "url": true, "token": true}

func blank(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			_, hostPorts := x.(map[string]any)
			if volatile[k] || (k == "ports" && hostPorts) {
				v[k] = "~"
			} else {
				v[k] = blank(x)
			}
		}
	case []any:
		for i, x := range v {
			v[i] = blank(x)
		}
	}
	return v
}

// TestLambdaAnswersLikeTheLocalServer sends real API Gateway events through
// every function's built bootstrap, each a warm process serving many
// invocations, and checks each answer against the local server's answer to
// the same request, against the real swarm.
func TestLambdaAnswersLikeTheLocalServer(t *testing.T) {
	eng := private.Get(t)
	cli := drivertest.Connect(t, connect.Config{Host: eng.TCPHost, CertPath: eng.CertDir, DialTimeout: 5 * time.Second, CallTimeout: 30 * time.Second})
	instance := drivertest.Instance(t, cli)
	env := functionEnv(t, instance)
	h := &harness{t: t, env: env, local: localServer(t, env), fns: map[string]*function{}}
	admin := "Bearer " + adminToken

	// Reads and errors: byte for byte.
	h.same(request{route: "list-images", method: "GET", path: "/v1/images", auth: admin}, 200)
	h.same(request{route: "get-me", method: "GET", path: "/v1/users/me", auth: admin}, 200)
	h.same(request{route: "get-me", method: "GET", path: "/v1/users/me"}, 401)
	h.same(request{route: "create-user", method: "POST", path: "/v1/users", auth: "Bearer wrong"}, 401)
	h.same(request{route: "get-container", method: "GET", path: "/v1/containers/nobody", auth: admin}, 404)
	h.same(request{route: "update-container", method: "PATCH", path: "/v1/containers/nobody", auth: admin, body: `{"status":"stopped"}`}, 404)
	h.same(request{route: "update-container", method: "PATCH", path: "/v1/containers/nobody", auth: admin, body: `{"status":"asleep"}`}, 400)
	h.same(request{route: "delete-container", method: "DELETE", path: "/v1/containers/nobody", auth: admin}, 404)
	h.same(request{route: "create-container", method: "POST", path: "/v1/containers", auth: admin, body: `{"image":`}, 400)
	h.same(request{route: "create-container", method: "POST", path: "/v1/containers", auth: admin, body: `{"image":"berth/demo","privileged":true}`}, 400)
	h.same(request{route: "create-container", method: "POST", path: "/v1/containers", auth: admin, body: `{"image":"alpine:3"}`}, 403)
	h.same(request{route: "create-container", method: "POST", path: "/v1/containers", auth: admin,
		body: `{"image":"berth/demo","name":"` + strings.Repeat("x", 70<<10) + `"}`}, 413)
	h.same(request{route: "create-container", method: "POST", path: "/v1/containers", body: `{"image":"berth/demo"}`}, 401)
	h.same(request{route: "check-in", method: "POST", path: "/v1/check-in", body: `{"active-connections":1}`}, 401)
	h.same(request{route: "check-in", method: "POST", path: "/v1/check-in", auth: "Bearer berth_c_eA.nope", body: `{"active-connections":1}`}, 401)

	// Users: new IDs and tokens each time, alike otherwise.
	h.alike(request{route: "create-user", method: "POST", path: "/v1/users", auth: admin},
		request{route: "create-user", method: "POST", path: "/v1/users", auth: admin}, 201, nil, nil)

	// Containers: created through each side, then each side acts on both.
	create := request{route: "create-container", method: "POST", path: "/v1/containers", auth: admin, body: `{"image":"berth/demo","labels":{"via":"both"}}`}
	la, lo := h.alike(create, create, 201, nil, nil)
	var ca, cb struct{ ID, Name string }
	json.Unmarshal([]byte(la.body), &ca)
	json.Unmarshal([]byte(lo.body), &cb)
	if ca.ID == "" || cb.ID == "" {
		t.Fatalf("creates: %s / %s", la, lo)
	}
	for _, ref := range []string{ca.ID, ca.Name, cb.ID} {
		h.same(request{route: "get-container", method: "GET", path: "/v1/containers/" + ref, auth: admin}, 200)
	}
	h.same(request{route: "list-containers", method: "GET", path: "/v1/containers?label=via=both", auth: admin}, 200)
	h.same(request{route: "update-container", method: "PATCH", path: "/v1/containers/" + ca.ID, auth: admin, body: `{"status":"running"}`}, 200)
	h.alike(request{route: "update-container", method: "PATCH", path: "/v1/containers/" + ca.ID, auth: admin, body: `{"status":"stopped"}`},
		request{route: "update-container", method: "PATCH", path: "/v1/containers/" + cb.ID, auth: admin, body: `{"status":"stopped"}`},
		200, []string{ca.ID, ca.Name}, []string{cb.ID, cb.Name})
	// The function stopped the container before it answered: a Lambda
	// process is frozen after its answer and finishes nothing later.
	stopped := h.same(request{route: "get-container", method: "GET", path: "/v1/containers/" + ca.ID, auth: admin}, 200)
	if !strings.Contains(stopped.body, `"status":"stopped"`) {
		t.Errorf("after the function's stop: %s", stopped)
	}

	// Check-in, each with its own container's token.
	h.alike(request{route: "check-in", method: "POST", path: "/v1/check-in", auth: "Bearer " + checkinToken(t, ca.ID), body: `{"active-connections":2}`},
		request{route: "check-in", method: "POST", path: "/v1/check-in", auth: "Bearer " + checkinToken(t, cb.ID), body: `{"active-connections":2}`},
		200, []string{ca.ID}, []string{cb.ID})
	active := h.same(request{route: "get-container", method: "GET", path: "/v1/containers/" + ca.ID, auth: admin}, 200)
	if !strings.Contains(active.body, `"active":"1"`) {
		t.Errorf("after the function's check-in: %s", active)
	}

	h.alike(request{route: "delete-container", method: "DELETE", path: "/v1/containers/" + ca.ID, auth: admin},
		request{route: "delete-container", method: "DELETE", path: "/v1/containers/" + cb.ID, auth: admin}, 204, nil, nil)
	h.same(request{route: "get-container", method: "GET", path: "/v1/containers/" + ca.ID, auth: admin}, 404)

	// Services, in both dialects.
	sa, sb := "lam-"+instance[len(instance)-6:], "loc-"+instance[len(instance)-6:]
	names := func(ls, lc string) ([]string, []string) { return []string{ls}, []string{lc} }
	na, nb := names(sa, sb)
	svc := func(route, method, path, body string) request {
		return request{route: route, method: method, path: path, auth: admin, body: body}
	}
	h.alike(svc("create-service", "POST", "/v1/services", `{"name":"`+sa+`","image":"berth/demo:latest","ports":[8080]}`),
		svc("create-service", "POST", "/v1/services", `{"name":"`+sb+`","image":"berth/demo:latest","ports":[8080]}`), 201, na, nb)
	h.same(svc("get-service", "GET", "/v1/services/"+sa, ""), 200)
	h.same(svc("list-services", "GET", "/v1/services", ""), 200)
	h.same(svc("service-status", "GET", "/v1/services/"+sa+"/status", ""), 200)
	h.alike(svc("update-service", "PUT", "/v1/services/"+sa, `{"image":"berth/demo:latest","env":{"A":"b"},"ports":[8080]}`),
		svc("update-service", "PUT", "/v1/services/"+sb, `{"image":"berth/demo:latest","env":{"A":"b"},"ports":[8080]}`), 200, na, nb)
	h.alike(svc("scale-service", "POST", "/v1/services/"+sa+"/scale", `{"replicas":0}`),
		svc("scale-service", "POST", "/v1/services/"+sb+"/scale", `{"replicas":0}`), 200, na, nb)
	h.same(svc("scale-service", "POST", "/v1/services/"+sa+"/scale", `{"replicas":-1}`), 400)

	ca2, cb2 := "c-"+sa, "c-"+sb
	nca, ncb := names(ca2, cb2)
	h.alike(svc("connector-create-service", "POST", "/service", `{"name":"`+ca2+`","image":"berth/demo:latest","command":"serve","ports":["8080"]}`),
		svc("connector-create-service", "POST", "/service", `{"name":"`+cb2+`","image":"berth/demo:latest","command":"serve","ports":["8080"]}`), 201, nca, ncb)
	h.same(svc("connector-get-service", "GET", "/service/"+ca2, ""), 200)
	h.same(svc("connector-list-services", "GET", "/service", ""), 200)
	h.same(svc("connector-service-status", "GET", "/service/"+ca2+"/status", ""), 200)
	h.alike(svc("connector-update-service", "PUT", "/service/"+ca2, `{"image":"berth/demo:latest","environment":{"A":"b"}}`),
		svc("connector-update-service", "PUT", "/service/"+cb2, `{"image":"berth/demo:latest","environment":{"A":"b"}}`), 200, nca, ncb)
	h.alike(svc("connector-scale-service", "POST", "/service/"+ca2+"/scale", `{"number":"0"}`),
		svc("connector-scale-service", "POST", "/service/"+cb2+"/scale", `{"number":"0"}`), 200, nca, ncb)
	h.same(svc("connector-create-service", "POST", "/service", `{"name":"x","image":"berth/demo"}`), 400)
	for _, pair := range [][2]string{{sa, sb}, {ca2, cb2}} {
		h.alike(svc("delete-service", "DELETE", "/v1/services/"+pair[0], ""), svc("delete-service", "DELETE", "/v1/services/"+pair[1], ""), 204, nil, nil)
	}
	h.same(svc("get-service", "GET", "/v1/services/"+sa, ""), 404)

	// Every route was served by its own function, each one warm process.
	for _, r := range api.Routes() {
		f := h.fns[r.Name]
		if f == nil {
			t.Errorf("route %s was never invoked", r.Name)
			continue
		}
		if n := int(f.rt.nexts.Load()); n != f.served+1 {
			t.Errorf("%s: %d requests for the next invocation after serving %d; want one process serving all", r.Name, n, f.served)
		}
		select {
		case err := <-f.exited:
			t.Errorf("%s exited: %v\n%s", r.Name, err, f.log)
		default:
		}
	}
}

// checkinToken reads a container's token from its service's environment.
func checkinToken(t *testing.T, id string) string {
	cli, err := private.Get(t).Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	svc, _, err := cli.ServiceInspectWithRaw(context.Background(), id, swarm.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range svc.Spec.TaskTemplate.ContainerSpec.Env {
		if v, ok := strings.CutPrefix(kv, "BERTH_CHECKIN_TOKEN="); ok {
			return v
		}
	}
	t.Fatalf("service %s has no check-in token", id)
	return ""
}

// TestInitMakesNoNetworkCall: a cold start builds everything but talks to
// no engine; the first invocation does.
func TestInitMakesNoNetworkCall(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	env := append(functionEnv(t, "init-probe"), "DOCKER_HOST=tcp://"+ln.Addr().String())
	f := startFunction(t, "get-container", env)
	f.waitReady(t)
	time.Sleep(200 * time.Millisecond)
	if n := len(accepted); n != 0 {
		t.Fatalf("%d connections to the engine during init, want none", n)
	}
	out := f.invoke(t, request{route: "get-container", method: "GET", path: "/v1/containers/x", auth: "Bearer " + adminToken}.event(t))
	var resp events.APIGatewayV2HTTPResponse
	json.Unmarshal(out.response, &resp)
	if resp.StatusCode != http.StatusServiceUnavailable || len(accepted) == 0 {
		t.Errorf("first invocation: %d after %d connections; want a connection and a 503 (the engine is not a Docker engine)", resp.StatusCode, len(accepted))
	}
}

// TestRefusesLocalState: a function will not start with a driver that keeps
// state in the process or on local disk; it says why through the Runtime
// API and exits non-zero.
func TestRefusesLocalState(t *testing.T) {
	env := append(functionEnv(t, "refuse"), "BERTH_DRIVER=docker", "DOCKER_HOST=unix:///var/run/docker.sock",
		"BERTH_TLS_CA=", "BERTH_TLS_CERT=", "BERTH_TLS_KEY=")
	f := startFunction(t, "list-images", env)
	select {
	case body := <-f.rt.initError:
		var e struct{ ErrorMessage, ErrorType string }
		json.Unmarshal(body, &e)
		if e.ErrorType != "Runtime.InitError" || !strings.Contains(e.ErrorMessage, "BERTH_DRIVER=swarm") {
			t.Errorf("init error %s: want Runtime.InitError asking for the swarm driver", body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no init error reported")
	}
	select {
	case err := <-f.exited:
		f.exited <- err
		if err == nil {
			t.Error("the function exited with status 0")
		}
	case <-time.After(10 * time.Second):
		t.Error("the function did not exit")
	}
}

// TestReconcileFunction: the scheduled function runs the local binary's
// reconcile pass: an idle container is culled.
func TestReconcileFunction(t *testing.T) {
	eng := private.Get(t)
	cli := drivertest.Connect(t, connect.Config{Host: eng.TCPHost, CertPath: eng.CertDir, DialTimeout: 5 * time.Second, CallTimeout: 30 * time.Second})
	instance := drivertest.Instance(t, cli)
	env := functionEnv(t, instance)
	h := &harness{t: t, env: env, local: localServer(t, env), fns: map[string]*function{}}
	created := h.viaLocal(request{method: "POST", path: "/v1/containers", auth: "Bearer " + adminToken, body: `{"image":"berth/demo","idle_timeout":"10s"}`})
	var c struct{ ID string }
	if json.Unmarshal([]byte(created.body), &c); created.code != 201 {
		t.Fatalf("create: %s", created)
	}
	f := startFunction(t, "reconcile", env)
	f.waitReady(t)
	schedule, err := os.ReadFile("testdata/schedule-event.json")
	if err != nil {
		t.Fatal(err)
	}
	if out := f.invoke(t, schedule); !strings.Contains(string(out.response), `"Culled":null`) {
		t.Errorf("a fresh container: %s %s, want nothing culled", out.response, out.err)
	}
	time.Sleep(11 * time.Second)
	out := f.invoke(t, schedule)
	if !strings.Contains(string(out.response), c.ID) {
		t.Errorf("after 11s idle: %s %s, want %s culled", out.response, out.err, c.ID)
	}
	got := h.viaLocal(request{method: "GET", path: "/v1/containers/" + c.ID, auth: "Bearer " + adminToken})
	if !strings.Contains(got.body, `"status":"stopped"`) {
		t.Errorf("after the reconcile function: %s", got)
	}
}
