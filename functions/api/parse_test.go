package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"berth/driver"
)

func TestAllowed(t *testing.T) {
	cases := []struct {
		patterns []string
		ref      string
		want     bool
	}{
		{[]string{"berth/demo:*"}, "berth/demo:latest", true},
		{[]string{"berth/demo:*"}, "berth/demo2:latest", false},
		{[]string{"berth/demo:v1"}, "berth/demo:v2", false},
		{[]string{"berth/demo"}, "berth/demo:anything", true},
		{[]string{"berth/demo"}, "berth/demo@sha256:" + strings.Repeat("a", 64), true},
		{[]string{"berth/demo:*"}, "berth/demo@sha256:" + strings.Repeat("a", 64), true}, // * matches a digest too
		{[]string{"jupyter/*"}, "jupyter/minimal-notebook:lab", true},
		{[]string{"jupyter/*"}, "jupyter/x/y:1", false},
		{[]string{"python:3.*"}, "python:3.12", true},
		{[]string{"python:3.*"}, "python:2.7", false},
		{[]string{"localhost:5000/app"}, "localhost:5000/app:v1", true},
		{[]string{"localhost:5000/app"}, "localhost:5001/app:v1", false},
		{[]string{"*"}, "ghcr.io/any/thing:tag", true},
		{nil, "berth/demo:latest", false},
		{[]string{"a:*", "b:*"}, "b:1", true},
	}
	for _, c := range cases {
		if got := allowed(c.patterns, c.ref); got != c.want {
			t.Errorf("allowed(%q, %q) = %v, want %v", c.patterns, c.ref, got, c.want)
		}
	}
}

func TestNormalizeImage(t *testing.T) {
	for in, want := range map[string]string{
		"berth/demo":                       "berth/demo:latest",
		"docker.io/berth/demo:v1":          "berth/demo:v1",
		"docker.io/library/python":         "python:latest",
		"python:3.12":                      "python:3.12",
		"localhost:5000/app":               "localhost:5000/app:latest",
		"ghcr.io/o/r@sha256:" + hex64("a"): "ghcr.io/o/r@sha256:" + hex64("a"),
	} {
		if got, err := normalizeImage(in); err != nil || got != want {
			t.Errorf("normalizeImage(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "upper/CASE", "a b", "repo:", ":tag", "repo@sha256:short", "-leading"} {
		if got, err := normalizeImage(bad); err == nil {
			t.Errorf("normalizeImage(%q) = %q, want an error", bad, got)
		}
	}
}

func hex64(c string) string { return strings.Repeat(c, 64) }

func FuzzNormalizeImage(f *testing.F) {
	for _, s := range []string{"berth/demo", "python:3", "a/b/c:d", "x@sha256:" + hex64("0"), "localhost:5000/a", "::", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		norm, err := normalizeImage(ref)
		if err != nil {
			return
		}
		again, err := normalizeImage(norm)
		if err != nil || again != norm {
			t.Errorf("normalizeImage(%q) = %q, which normalizes to %q, %v", ref, norm, again, err)
		}
		repo, version := splitRef(norm)
		if repo == "" || version == "" {
			t.Errorf("splitRef(%q) = %q, %q: a normalized ref has both", norm, repo, version)
		}
	})
}

func TestUserTokens(t *testing.T) {
	a := &API{secret: []byte(strings.Repeat("k", 32))}
	id, token := a.newUser()
	if got, ok := a.verifyUserToken(token); !ok || got != id {
		t.Fatalf("verify(new token) = %q, %v; want %q", got, ok, id)
	}
	other := &API{secret: []byte(strings.Repeat("j", 32))}
	for name, bad := range map[string]string{
		"other secret":  func() string { _, t := other.userToken(id); return t }(),
		"other id":      strings.Replace(token, id, "u"+strings.Repeat("0", 20), 1),
		"cut signature": token[:len(token)-1],
		"no prefix":     strings.TrimPrefix(token, userTokenPrefix),
		"empty":         "",
	} {
		if got, ok := a.verifyUserToken(bad); ok {
			t.Errorf("%s: verify = %q, true", name, got)
		}
	}
}

func FuzzCheckinToken(f *testing.F) {
	f.Add("berth-abc")
	f.Add("a")
	f.Add("x.y_z-0")
	f.Fuzz(func(t *testing.T, name string) {
		token, hash := newCheckinToken(name)
		gotName, gotHash, ok := parseCheckinToken(token)
		if validName.MatchString(name) != ok {
			t.Fatalf("parse(token for %q) ok = %v", name, ok)
		}
		if ok && (gotName != name || gotHash != hash) {
			t.Errorf("parse(token for %q) = %q, %q; want the name and %q", name, gotName, gotHash, hash)
		}
		if _, _, ok := parseCheckinToken(name); ok {
			t.Errorf("a bare name %q parsed as a token", name)
		}
	})
}

func FuzzDecodeCreate(f *testing.F) {
	for _, s := range []string{
		`{"image":"berth/demo"}`,
		`{"image":"berth/demo","name":"x","env":{"A":"1"},"cmd":["a"],"labels":{"k":"v"},"idle_timeout":"5m"}`,
		`{"image":1}`, `[]`, `{"privileged":true}`, `{"env":{"BERTH_X":"1"}}`, "{\"cmd\":[\"\\u0000\"]}",
	} {
		f.Add(s, "application/json")
	}
	f.Add("image=berth%2Fdemo&name=n", "application/x-www-form-urlencoded")
	f.Add("image=a&image=b", "application/x-www-form-urlencoded")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		r := httptest.NewRequest("POST", "/v1/containers", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		req, err := decode[createContainerRequest](r)
		if err != nil {
			if e := toError(err); e.Code < 400 || e.Code >= 500 {
				t.Fatalf("decode(%q) error maps to %d: %v", body, e.Code, err)
			}
			return
		}
		if err := req.validate(); err != nil {
			t.Fatalf("decode(%q) accepted a request that fails validation: %v", body, err)
		}
		for k := range req.Env {
			if strings.HasPrefix(strings.ToUpper(k), "BERTH_") {
				t.Fatalf("decode(%q) let %s through", body, k)
			}
		}
	})
}

func FuzzDecodeCheckin(f *testing.F) {
	for _, s := range []string{`{"active-connections":1}`, `{"active-connections":"2"}`, `{"active-connections":-1}`, `{}`, `{"active-connections":1e99}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/v1/check-in", strings.NewReader(body))
		req, err := decode[checkinRequest](r)
		if err != nil {
			if toError(err).Code != http.StatusBadRequest && toError(err).Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("decode(%q): %v maps to %d", body, err, toError(err).Code)
			}
			return
		}
		if req.ActiveConnections == nil || *req.ActiveConnections < 0 {
			t.Fatalf("decode(%q) = %v without error", body, req.ActiveConnections)
		}
	})
}

// FuzzDecodeService runs the connector's service bodies through decoding
// and validation: whatever passes has a tagged image, ports in range and no
// BERTH_ variables; whatever fails is a 4xx.
func FuzzDecodeService(f *testing.F) {
	for _, s := range []string{
		`{"name":"hello","image":"berth/demo:latest","command":"serve --x 'a b'","environment":{"A":"1"},"ports":["8080",22]}`,
		`{"name":"x","image":"berth/demo"}`, `{"name":"x","image":"a:1","ports":["0"]}`, `{"name":"x","image":"a:1","command":"'"}`,
		`{"name":"x","image":"a:1","environment":{"BERTH_X":"1"}}`, `{"number":"3"}`,
	} {
		f.Add(s)
	}
	a := &API{cfg: Config{Images: []string{"*"}, MaxReplicas: 20}}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/service", strings.NewReader(body))
		req, err := decode[connectorRequest](r)
		var spec *driver.ServiceSpec
		if err == nil {
			var d serviceDefinition
			if d, err = req.definition(); err == nil {
				spec, err = a.serviceSpec(d, "alice")
			}
		}
		if err != nil {
			if code := toError(err).Code; code < 400 || code >= 500 {
				t.Fatalf("%q: %v maps to %d", body, err, code)
			}
			return
		}
		if !hasVersion(spec.Image) {
			t.Errorf("%q: image %q without a tag passed", body, spec.Image)
		}
		for _, p := range spec.Ports {
			if p < 1 || p > 65535 {
				t.Errorf("%q: port %d passed", body, p)
			}
		}
		for _, kv := range spec.Env {
			if strings.HasPrefix(strings.ToUpper(kv), "BERTH_") || !validEnvName.MatchString(strings.SplitN(kv, "=", 2)[0]) {
				t.Errorf("%q: env %q passed", body, kv)
			}
		}
	})
}
