package lambdafn_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"berth/functions/api"

	"gopkg.in/yaml.v3"
)

// templateFunction is one AWS::Serverless::Function of template.yaml.
type templateFunction struct {
	id          string
	buildMethod string
	method      string // of its HttpApi event
	path        string
	schedule    string // of its Schedule event
}

// readTemplate parses template.yaml as a YAML node tree, which keeps
// CloudFormation's short tags (!Ref, !Sub, !GetAtt) instead of failing on
// them, and returns it with its functions.
func readTemplate(t *testing.T) (*yaml.Node, map[string]templateFunction) {
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	root := doc.Content[0]
	fns := map[string]templateFunction{}
	resources := get(root, "Resources")
	for i := 0; resources != nil && i+1 < len(resources.Content); i += 2 {
		id, res := resources.Content[i].Value, resources.Content[i+1]
		if scalar(get(res, "Type")) != "AWS::Serverless::Function" {
			continue
		}
		f := templateFunction{id: id, buildMethod: scalar(get(get(res, "Metadata"), "BuildMethod"))}
		ev := get(get(res, "Properties"), "Events")
		for j := 0; ev != nil && j+1 < len(ev.Content); j += 2 {
			e := ev.Content[j+1]
			props := get(e, "Properties")
			switch scalar(get(e, "Type")) {
			case "HttpApi":
				if f.method != "" {
					t.Errorf("%s has more than one HttpApi event", id)
				}
				f.method, f.path = scalar(get(props, "Method")), scalar(get(props, "Path"))
				if ref := get(props, "ApiId"); ref == nil || ref.Tag != "!Ref" || ref.Value != "BerthApi" {
					t.Errorf("%s: its event is not on BerthApi (ApiId: !Ref BerthApi)", id)
				}
			case "Schedule":
				f.schedule = scalar(get(props, "Schedule"))
			}
		}
		fns[id] = f
	}
	return root, fns
}

// get returns the value of key in a mapping node, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return n.Value
}

// logicalID is a function's logical ID in template.yaml: its directory in
// CamelCase plus "Function" (the Makefile's build-%Function relies on it).
func logicalID(dir string) string {
	var b strings.Builder
	for _, w := range strings.Split(dir, "-") {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String() + "Function"
}

// TestEveryRouteIsOneFunction: every route has exactly one functions/<name>
// that starts it, and exactly one template function with its method and
// path; and the reverse.
func TestEveryRouteIsOneFunction(t *testing.T) {
	_, fns := readTemplate(t)
	dirs, err := filepath.Glob("../*/main.go")
	if err != nil {
		t.Fatal(err)
	}
	functionDirs := map[string]bool{}
	for _, d := range dirs {
		functionDirs[filepath.Base(filepath.Dir(d))] = true
	}

	routes := api.Routes()
	seen := map[string]bool{}
	for _, r := range routes {
		if seen[r.Method+" "+r.Path] {
			t.Errorf("two routes for %s %s", r.Method, r.Path)
		}
		seen[r.Method+" "+r.Path] = true
		main, err := os.ReadFile(filepath.Join("..", r.Name, "main.go"))
		if err != nil {
			t.Errorf("route %s has no functions/%s/main.go", r.Name, r.Name)
		} else if !strings.Contains(string(main), `lambdafn.Start("`+r.Name+`")`) {
			t.Errorf("functions/%s/main.go does not start route %s", r.Name, r.Name)
		}
		f, ok := fns[logicalID(r.Name)]
		if !ok {
			t.Errorf("route %s has no %s in template.yaml", r.Name, logicalID(r.Name))
			continue
		}
		if f.method != r.Method || f.path != r.Path {
			t.Errorf("%s answers %s %s in template.yaml, the route is %s %s", f.id, f.method, f.path, r.Method, r.Path)
		}
		delete(fns, f.id)
		delete(functionDirs, r.Name)
	}
	// What is left must be the scheduled reconcile function, and nothing else.
	if f, ok := fns["ReconcileFunction"]; !ok || f.schedule != "rate(1 minute)" || f.method != "" {
		t.Errorf("ReconcileFunction: %+v, want a Schedule event at rate(1 minute) and no API event", f)
	}
	delete(fns, "ReconcileFunction")
	if main, err := os.ReadFile("../reconcile/main.go"); err != nil || !strings.Contains(string(main), "lambdafn.StartReconcile()") {
		t.Errorf("functions/reconcile/main.go does not start the reconcile pass: %v", err)
	}
	delete(functionDirs, "reconcile")
	for id := range fns {
		t.Errorf("template function %s serves no route", id)
	}
	for dir := range functionDirs {
		t.Errorf("functions/%s is a main package but no route", dir)
	}
}

// TestTemplateIsWhatSAMTakes checks what sam build, sam local start-api and
// sam deploy need of the template: the transform, the Globals, a makefile
// build per function that the Makefile can carry out, parameters for every
// !Ref, secrets not echoed, and the API URL as an output.
func TestTemplateIsWhatSAMTakes(t *testing.T) {
	root, fns := readTemplate(t)
	if scalar(get(root, "Transform")) != "AWS::Serverless-2016-10-31" {
		t.Error("Transform is not AWS::Serverless-2016-10-31")
	}
	g := get(get(root, "Globals"), "Function")
	for key, want := range map[string]string{"Runtime": "provided.al2023", "Handler": "bootstrap", "CodeUri": "."} {
		if got := scalar(get(g, key)); got != want {
			t.Errorf("Globals.Function.%s = %q, want %q", key, got, want)
		}
	}
	if a := get(g, "Architectures"); a == nil || len(a.Content) != 1 || a.Content[0].Value != "arm64" {
		t.Error("Globals.Function.Architectures is not [arm64]")
	}
	if timeout, err := strconv.Atoi(scalar(get(g, "Timeout"))); err != nil || timeout <= 0 || timeout >= 29 {
		t.Errorf("Globals.Function.Timeout = %d (%v), want under API Gateway's 29 seconds", timeout, err)
	}
	if scalar(get(get(get(g, "Environment"), "Variables"), "BERTH_DRIVER")) != "swarm" {
		t.Error("the functions do not use the swarm driver")
	}

	// Every function builds with the Makefile, into the right directory.
	for id, f := range fns {
		if f.buildMethod != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod = %q, want makefile", id, f.buildMethod)
		}
		out, err := exec.Command("make", "-n", "--no-print-directory", "-C", "../..", "build-"+id, "ARTIFACTS_DIR=/artifacts").CombinedOutput()
		want := "-o /artifacts/bootstrap ./functions/"
		if err != nil || !strings.Contains(string(out), want) || !strings.Contains(string(out), "-tags lambda.norpc") {
			t.Errorf("make build-%s: %v\n%s", id, err, out)
			continue
		}
		built, _, _ := strings.Cut(string(out)[strings.Index(string(out), want)+len(want):], "\n")
		if logicalID(built) != id {
			t.Errorf("make build-%s builds ./functions/%s", id, built)
		}
	}

	// Every !Ref names a parameter, a resource or a pseudo parameter; every
	// secret parameter is NoEcho.
	params, resources := get(root, "Parameters"), get(root, "Resources")
	var refs []string
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Tag == "!Ref" {
			refs = append(refs, n.Value)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
	if len(refs) == 0 {
		t.Fatal("no !Ref in the template: the short tags were not parsed")
	}
	for _, ref := range refs {
		if get(params, ref) == nil && get(resources, ref) == nil && !strings.HasPrefix(ref, "AWS::") {
			t.Errorf("!Ref %s names nothing", ref)
		}
	}
	for _, secret := range []string{"AdminToken", "HmacSecret", "EngineKey", "EngineCert"} {
		if scalar(get(get(params, secret), "NoEcho")) != "true" {
			t.Errorf("parameter %s is not NoEcho", secret)
		}
	}
	if url := get(get(get(root, "Outputs"), "ApiUrl"), "Value"); url == nil || url.Tag != "!Sub" || !strings.Contains(url.Value, "${BerthApi}") {
		t.Error("Outputs.ApiUrl is not the API's URL (!Sub with ${BerthApi})")
	}
}
