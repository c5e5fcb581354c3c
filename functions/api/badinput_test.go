package api_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"berth/driver/drivertest"
)

// TestBadInput sends every kind of bad request and checks that each gets its
// status and a clear {"code","message"} answer, and that the engine is left
// exactly as it was.
func TestBadInput(t *testing.T) { eachDriver(t, testBadInput) }

func testBadInput(t *testing.T, kind string) {
	e := newEnv(t, kind, nil)
	_, alice := e.newUser()
	_, bob := e.newUser()
	bobs := e.create(bob, map[string]string{"image": "berth/demo"})
	aliceToken := strings.TrimPrefix(alice, "Bearer ")
	tampered := "Bearer " + aliceToken[:len(aliceToken)-2] + "xx"
	huge := `{"image":"berth/demo","name":"` + strings.Repeat("a", 70<<10) + `"}`
	before := e.snapshot()

	cases := []struct {
		name        string
		method      string
		path        string
		auth        string
		body        any
		contentType string // overrides the body's
		code        int
		message     string // a part of the message
	}{
		{"malformed JSON", "POST", "/v1/containers", admin, `{"image":`, "", 400, "malformed body"},
		{"not an object", "POST", "/v1/containers", admin, `["berth/demo"]`, "", 400, "malformed body"},
		{"trailing data", "POST", "/v1/containers", admin, `{"image":"berth/demo"} {}`, "", 400, "after the JSON object"},
		{"unknown field privileged", "POST", "/v1/containers", admin, `{"image":"berth/demo","privileged":true}`, "", 400, `unknown field "privileged"`},
		{"unknown field binds", "POST", "/v1/containers", admin, `{"image":"berth/demo","binds":["/:/host"]}`, "", 400, `unknown field "binds"`},
		{"unknown form field", "POST", "/v1/containers", admin, url.Values{"image": {"berth/demo"}, "network_mode": {"host"}}, "", 400, `unknown field "network_mode"`},
		{"repeated form field", "POST", "/v1/containers", admin, url.Values{"image": {"berth/demo", "berth/demo"}}, "", 400, "given 2 times"},
		{"wrong field type", "POST", "/v1/containers", admin, `{"image":"berth/demo","cmd":"sh"}`, "", 400, `"cmd" must be an array`},
		{"body over the limit", "POST", "/v1/containers", admin, huge, "", 413, "larger than 65536 bytes"},
		{"unsupported content type", "POST", "/v1/containers", admin, `image: berth/demo`, "text/yaml", 415, "not supported"},
		{"missing image", "POST", "/v1/containers", admin, `{}`, "", 400, "image is required"},
		{"invalid image reference", "POST", "/v1/containers", admin, `{"image":"Not A/Valid::Ref"}`, "", 400, "not a valid image reference"},
		{"disallowed image", "POST", "/v1/containers", admin, `{"image":"alpine:3.20"}`, "", 403, `"alpine:3.20" is not allowed`},
		{"image absent from the engine", "POST", "/v1/containers", admin, `{"image":"berth/demo:no-such-tag"}`, "", 400, "not present on the engine"},
		{"invalid name", "POST", "/v1/containers", admin, `{"image":"berth/demo","name":"../etc"}`, "", 400, "name"},
		{"reserved env", "POST", "/v1/containers", admin, `{"image":"berth/demo","env":{"BERTH_CHECKIN_TOKEN":"x"}}`, "", 400, "set by Berth"},
		{"invalid env name", "POST", "/v1/containers", admin, `{"image":"berth/demo","env":{"A-B":"x"}}`, "", 400, "not a valid variable name"},
		{"invalid label key", "POST", "/v1/containers", admin, `{"image":"berth/demo","labels":{"Berth Owner":"x"}}`, "", 400, "label key"},
		{"idle timeout too short", "POST", "/v1/containers", admin, `{"image":"berth/demo","idle_timeout":"1s"}`, "", 400, "idle_timeout"},
		{"idle timeout too long", "POST", "/v1/containers", admin, `{"image":"berth/demo","idle_timeout":"9999h"}`, "", 400, "idle_timeout"},
		{"idle timeout not a duration", "POST", "/v1/containers", admin, `{"image":"berth/demo","idle_timeout":"soon"}`, "", 400, "idle_timeout"},
		{"bad status value", "PATCH", "/v1/containers/" + bobs.ID, admin, `{"status":"paused"}`, "", 400, `"running" or "stopped"`},
		{"missing status", "PATCH", "/v1/containers/" + bobs.ID, admin, `{}`, "", 400, `"running" or "stopped"`},
		{"bad list filter", "GET", "/v1/containers?status=zombie", admin, nil, "", 400, "status"},
		{"unknown id", "GET", "/v1/containers/" + strings.Repeat("0", 64), admin, nil, "", 404, "not found"},
		{"unknown name", "DELETE", "/v1/containers/nobody-here", admin, nil, "", 404, "not found"},
		{"unknown path", "GET", "/v1/nothing", admin, nil, "", 404, "no such endpoint"},
		{"wrong method", "PUT", "/v1/containers", admin, `{"image":"berth/demo"}`, "", 405, "not allowed"},
		{"wrong method on one", "POST", "/v1/containers/" + bobs.ID, admin, nil, "", 405, "not allowed"},
		{"missing token", "POST", "/v1/containers", "", `{"image":"berth/demo"}`, "", 401, "credentials"},
		{"wrong token", "POST", "/v1/containers", "Bearer not-the-token", `{"image":"berth/demo"}`, "", 401, "credentials"},
		{"tampered user token", "GET", "/v1/containers", tampered, nil, "", 401, "credentials"},
		{"wrong basic password", "GET", "/v1/containers", "Basic " + basic("admin", "spindocker"), nil, "", 401, "credentials"},
		{"basic as a user", "GET", "/v1/containers", "Basic " + basic("alice", adminToken), nil, "", 401, "credentials"},
		{"check-in token as admin", "GET", "/v1/containers", "Bearer berth_c_eA.x", nil, "", 401, "credentials"},
		{"user creates users", "POST", "/v1/users", alice, nil, "", 403, "admin"},
		{"another owner's id", "GET", "/v1/containers/" + bobs.ID, alice, nil, "", 404, "not found"},
		{"another owner's name", "PATCH", "/v1/containers/" + bobs.Name, alice, `{"status":"stopped"}`, "", 404, "not found"},
		{"another owner's delete", "DELETE", "/v1/containers/" + bobs.ID, alice, nil, "", 404, "not found"},
		{"check-in without token", "POST", "/v1/check-in", "", `{"active-connections":1}`, "", 401, "BERTH_CHECKIN_TOKEN"},
		{"check-in with a user token", "POST", "/v1/check-in", alice, `{"active-connections":1}`, "", 401, "BERTH_CHECKIN_TOKEN"},
		{"check-in with a forged token", "POST", "/v1/check-in", "Bearer berth_c_" + b64(bobs.Name) + ".guess", `{"active-connections":1}`, "", 401, "BERTH_CHECKIN_TOKEN"},
		{"check-in with the admin token", "POST", "/v1/check-in", admin, `{"active-connections":1}`, "", 401, "BERTH_CHECKIN_TOKEN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := e.request(c.method, c.path, c.auth, c.body)
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			resp := e.send(req)
			if resp.code != c.code {
				t.Fatalf("%s %s: %s, want %d", c.method, c.path, resp, c.code)
			}
			if ct := resp.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			var body struct {
				Code    *int    `json:"code"`
				Message *string `json:"message"`
			}
			dec := json.NewDecoder(strings.NewReader(string(resp.body)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&body); err != nil || body.Code == nil || body.Message == nil {
				t.Fatalf("body %q is not {code, message}: %v", resp.body, err)
			}
			if *body.Code != c.code || !strings.Contains(*body.Message, c.message) {
				t.Errorf("body = {%d, %q}, want {%d, ...%q...}", *body.Code, *body.Message, c.code, c.message)
			}
			if c.code == 405 && resp.header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
			if c.code == 401 && c.path != "/v1/check-in" && len(resp.header.Values("WWW-Authenticate")) == 0 {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if after := e.snapshot(); after != before {
		t.Errorf("bad requests changed the engine:\nbefore %s\nafter  %s", before, after)
	}
}

func (e *env) snapshot() string { return drivertest.Snapshot(e.t, e.cli, e.instance) }
