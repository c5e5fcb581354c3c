package api_test

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestConnectorServices drives the service connector's paths with its own
// bodies, as seed 004 documents them.
func TestConnectorServices(t *testing.T) { eachDriver(t, testConnectorServices) }

func testConnectorServices(t *testing.T, kind string) {
	e := newEnv(t, kind, nil)
	name := "hello-" + e.instance[len(e.instance)-8:]
	resp := e.do("POST", "/service", admin, map[string]any{
		"name": name, "image": "berth/demo:latest", "command": "serve --greeting 'hello world'",
		"environment": map[string]string{"GREETING": "hi"}, "ports": []string{"8080"},
	})
	if resp.code != http.StatusCreated {
		t.Fatalf("POST /service: %s", resp)
	}
	var all map[string]map[string]any
	e.do("GET", "/service", admin, nil).decode(t, &all)
	want := map[string]any{
		"name": name, "image": "berth/demo:latest", "command": "serve --greeting 'hello world'",
		"environment": map[string]any{"GREETING": "hi"}, "ports": []any{"8080"},
	}
	if !reflect.DeepEqual(all[name], want) || len(all) != 1 {
		t.Errorf("GET /service = %v, want {%q: %v}", all, name, want)
	}
	var one map[string]any
	e.do("GET", "/service/"+name, admin, nil).decode(t, &one)
	if !reflect.DeepEqual(one, want) {
		t.Errorf("GET /service/%s = %v, want %v", name, one, want)
	}

	if resp := e.do("POST", "/service/"+name+"/scale", admin, `{"number": "2"}`); resp.code != http.StatusOK {
		t.Fatalf("scale: %s", resp)
	}
	e.waitRunning(name, 2)
	if g := e.greetings(name); !reflect.DeepEqual(g, []string{"hi", "hi"}) {
		t.Errorf("replicas say %q", g)
	}

	// PUT: image mandatory, the rest replaced; replicas replaced one by one.
	resp = e.do("PUT", "/service/"+name, admin, map[string]any{
		"image": "berth/demo:latest", "environment": map[string]string{"GREETING": "bye"}, "ports": []string{"8080"}})
	if resp.code != http.StatusOK {
		t.Fatalf("PUT: %s", resp)
	}
	e.do("GET", "/service/"+name, admin, nil).decode(t, &one)
	if one["command"] != nil || !reflect.DeepEqual(one["environment"], map[string]any{"GREETING": "bye"}) {
		t.Errorf("after PUT: %v, want command null and the new environment", one)
	}
	deadline := time.Now().Add(time.Minute)
	for g := e.greetings(name); !reflect.DeepEqual(g, []string{"bye", "bye"}); g = e.greetings(name) {
		if time.Now().After(deadline) {
			t.Fatalf("replicas still say %q after the update", g)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// httpie's `number=0` sends the number as a string; a form does too.
	if resp := e.do("POST", "/service/"+name+"/scale", admin, url.Values{"number": {"0"}}); resp.code != http.StatusOK {
		t.Fatalf("scale to 0: %s", resp)
	}
	e.waitRunning(name, 0)
	if resp := e.do("DELETE", "/v1/services/"+name, admin, nil); resp.code != http.StatusNoContent {
		t.Fatalf("DELETE: %s", resp)
	}
	if resp := e.do("GET", "/service/"+name, admin, nil); resp.code != http.StatusNotFound {
		t.Errorf("GET after DELETE: %s", resp)
	}
}

// TestServicesV1 is Berth's own dialect, with richer objects.
func TestServicesV1(t *testing.T) { eachDriver(t, testServicesV1) }

func testServicesV1(t *testing.T, kind string) {
	e := newEnv(t, kind, nil)
	_, alice := e.newUser()
	_, bob := e.newUser()
	name := "web-" + e.instance[len(e.instance)-8:]
	resp := e.do("POST", "/v1/services", alice, map[string]any{
		"name": name, "image": "berth/demo:latest", "env": map[string]string{"GREETING": "v1"}, "ports": []int{8080}, "replicas": 1})
	var s serviceObject
	resp.decode(t, &s)
	if resp.code != http.StatusCreated || resp.header.Get("Location") != "/v1/services/"+name || s.Name != name || s.Replicas.Desired != 1 || s.URI != "/v1/services/"+name {
		t.Fatalf("POST /v1/services: %s", resp)
	}
	s = e.waitRunning(name, 1)
	if len(s.Instances) != 1 || s.Instances[0].Ports["8080"] == 0 || !strings.HasPrefix(s.Instances[0].URL, "http://localhost:") {
		t.Errorf("instances %+v: want one, with 8080 published and a URL", s.Instances)
	}
	var status struct{ Desired, Running int }
	e.do("GET", "/v1/services/"+name+"/status", alice, nil).decode(t, &status)
	if status.Desired != 1 || status.Running != 1 {
		t.Errorf("status = %+v", status)
	}
	var list []serviceObject
	e.do("GET", "/v1/services", bob, nil).decode(t, &list)
	if len(list) != 0 {
		t.Errorf("bob sees alice's services: %+v", list)
	}
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/v1/services/" + name, ""}, {"GET", "/service/" + name + "/status", ""},
		{"POST", "/v1/services/" + name + "/scale", `{"replicas":3}`}, {"DELETE", "/v1/services/" + name, ""},
		{"PUT", "/v1/services/" + name, `{"image":"berth/demo:latest"}`},
	} {
		var body any
		if req.body != "" {
			body = req.body
		}
		if r := e.do(req.method, req.path, bob, body); r.code != http.StatusNotFound {
			t.Errorf("bob %s %s: %s, want 404", req.method, req.path, r)
		}
	}
	e.do("GET", "/v1/services", alice, nil).decode(t, &list)
	if len(list) != 1 || list[0].Owner != s.Owner || list[0].Replicas.Desired != 1 {
		t.Errorf("alice's services = %+v", list)
	}
}

type serviceObject struct {
	Name     string            `json:"name"`
	Owner    string            `json:"owner"`
	Image    string            `json:"image"`
	Cmd      []string          `json:"cmd"`
	Env      map[string]string `json:"env"`
	Ports    []int             `json:"ports"`
	Replicas struct {
		Desired int `json:"desired"`
		Running int `json:"running"`
	} `json:"replicas"`
	Instances []struct {
		ID     string         `json:"id"`
		Status string         `json:"status"`
		Ports  map[string]int `json:"ports"`
		URL    string         `json:"url"`
	} `json:"instances"`
	URI string `json:"uri"`
}

// waitRunning polls the connector's status until n replicas run (and, with
// Berth's view, n instances are listed).
func (e *env) waitRunning(name string, n int) serviceObject {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var status struct {
			Running *int `json:"running_resources"`
		}
		e.do("GET", "/service/"+name+"/status", admin, nil).decode(e.t, &status)
		var s serviceObject
		e.do("GET", "/v1/services/"+name, admin, nil).decode(e.t, &s)
		if status.Running != nil && *status.Running == n && len(s.Instances) == n {
			return s
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("service %s: running_resources %v, instances %d; want %d", name, status.Running, len(s.Instances), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// greetings asks each instance of the service for its GREETING.
func (e *env) greetings(name string) []string {
	e.t.Helper()
	var s serviceObject
	e.do("GET", "/v1/services/"+name, admin, nil).decode(e.t, &s)
	var out []string
	for _, in := range s.Instances {
		out = append(out, httpGet(e.t.(*testing.T), "http://"+e.app(itoa(in.Ports["8080"]))+"/env/GREETING"))
	}
	return out
}

func TestServiceBadInput(t *testing.T) { eachDriver(t, testServiceBadInput) }

func testServiceBadInput(t *testing.T, kind string) {
	e := newEnv(t, kind, nil)
	_, alice := e.newUser()
	name := "taken-" + e.instance[len(e.instance)-8:]
	if r := e.do("POST", "/v1/services", admin, map[string]any{"name": name, "image": "berth/demo:latest"}); r.code != http.StatusCreated {
		t.Fatal(r)
	}
	before := e.snapshot()
	cases := []struct {
		name, method, path, auth, body string
		code                           int
		message                        string
	}{
		{"missing name", "POST", "/service", admin, `{"image":"berth/demo:latest"}`, 400, "name is required"},
		{"missing image", "POST", "/service", admin, `{"name":"x1"}`, 400, "image is required"},
		{"image without tag", "POST", "/service", admin, `{"name":"x1","image":"berth/demo"}`, 400, "must include a tag"},
		{"invalid image", "POST", "/service", admin, `{"name":"x1","image":"Berth//demo:1"}`, 400, "not a valid image reference"},
		{"disallowed image", "POST", "/service", admin, `{"name":"x1","image":"alpine:3.20"}`, 403, "not allowed"},
		{"bad env name", "POST", "/service", admin, `{"name":"x1","image":"berth/demo:latest","environment":{"1X":"y"}}`, 400, "not a valid variable name"},
		{"port zero", "POST", "/service", admin, `{"name":"x1","image":"berth/demo:latest","ports":["0"]}`, 400, "out of range"},
		{"port too big", "POST", "/v1/services", admin, `{"name":"x1","image":"berth/demo:latest","ports":[70000]}`, 400, "out of range"},
		{"port not a number", "POST", "/service", admin, `{"name":"x1","image":"berth/demo:latest","ports":["http"]}`, 400, "not a number"},
		{"port twice", "POST", "/v1/services", admin, `{"name":"x1","image":"berth/demo:latest","ports":[80,80]}`, 400, "twice"},
		{"unbalanced quote", "POST", "/service", admin, `{"name":"x1","image":"berth/demo:latest","command":"sh -c 'oops"}`, 400, "command"},
		{"invalid name", "POST", "/v1/services", admin, `{"name":"a b","image":"berth/demo:latest"}`, 400, "name"},
		{"unknown field", "POST", "/v1/services", admin, `{"name":"x1","image":"berth/demo:latest","privileged":true}`, 400, `unknown field "privileged"`},
		{"too many replicas", "POST", "/v1/services", admin, `{"name":"x1","image":"berth/demo:latest","replicas":1000}`, 400, "from 0 to 20"},
		{"duplicate name", "POST", "/service", admin, `{"name":"` + name + `","image":"berth/demo:latest"}`, 409, "already in use"},
		{"negative number", "POST", "/service/" + name + "/scale", admin, `{"number":-1}`, 400, "from 0 to 20"},
		{"absurd number", "POST", "/service/" + name + "/scale", admin, `{"number":100000}`, 400, "from 0 to 20"},
		{"missing number", "POST", "/service/" + name + "/scale", admin, `{}`, 400, "number is required"},
		{"number not a number", "POST", "/service/" + name + "/scale", admin, `{"number":"many"}`, 400, "number"},
		{"missing replicas", "POST", "/v1/services/" + name + "/scale", admin, `{}`, 400, "replicas is required"},
		{"PUT without image", "PUT", "/service/" + name, admin, `{"environment":{"A":"b"}}`, 400, "image is required"},
		{"PUT renaming", "PUT", "/service/" + name, admin, `{"name":"other","image":"berth/demo:latest"}`, 400, "the body names"},
		{"PUT image without tag", "PUT", "/v1/services/" + name, admin, `{"image":"berth/demo"}`, 400, "must include a tag"},
		{"unknown service", "GET", "/service/nope", admin, ``, 404, "not found"},
		{"unknown service status", "GET", "/service/nope/status", admin, ``, 404, "not found"},
		{"unknown service scale", "POST", "/service/nope/scale", admin, `{"number":1}`, 404, "not found"},
		{"unknown service put", "PUT", "/service/nope", admin, `{"image":"berth/demo:latest"}`, 404, "not found"},
		{"unknown service delete", "DELETE", "/v1/services/nope", admin, ``, 404, "not found"},
		{"another owner's service", "GET", "/v1/services/" + name, alice, ``, 404, "not found"},
		{"another owner's scale", "POST", "/service/" + name + "/scale", alice, `{"number":1}`, 404, "not found"},
		{"no credentials", "GET", "/service", "", ``, 401, "credentials"},
		{"wrong method", "DELETE", "/service/" + name, admin, ``, 405, "not allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.body != "" {
				body = c.body
			}
			r := e.do(c.method, c.path, c.auth, body)
			var got struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			r.decode(t, &got)
			if r.code != c.code || got.Code != c.code || !strings.Contains(got.Message, c.message) {
				t.Errorf("%s %s %s: %s, want %d ...%s...", c.method, c.path, c.body, r, c.code, c.message)
			}
		})
	}
	if after := e.snapshot(); after != before {
		t.Errorf("bad requests changed the engine:\nbefore %s\nafter  %s", before, after)
	}
}
