package build

import (
	"encoding/json"
	"flag"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/test/golden"
	"github.com/kfgate/kfgate/test/routeeval"
)

var update = flag.Bool("update", false, "rewrite testdata/*.out.yaml from the current output and delete stale ones")

// TestGolden renders every testdata/<case>.in.yaml and compares with <case>.out.yaml: the diagnostics
// (as `kfgate lint` prints them) and the Envoy resources (as `kfgate render` prints them).
func TestGolden(t *testing.T) {
	if ins, _ := filepath.Glob("testdata/*.in.yaml"); len(ins) < 40 {
		t.Errorf("only %d golden cases; the suite promises at least 40", len(ins))
	}
	golden.Cases(t, "testdata", ".in.yaml", ".out.yaml", *update, "make testdata", renderGolden)
}

func renderGolden(t *testing.T, in string) []byte {
	t.Helper()
	objs, err := source.LoadPaths(in)
	if err != nil {
		t.Fatal(err)
	}
	res, err := NewBuilder(Options{}).Build(objs)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	// Every construct kfgate emits is one the route evaluator models (and so one the router_check
	// conformance corpus can vouch for): the evaluator compiles strictly.
	for _, rc := range res.Resources.Routes {
		if _, err := routeeval.Compile(rc); err != nil {
			t.Errorf("the route evaluator does not model this case's RouteConfiguration %q: %v", rc.GetName(), err)
		}
	}
	rendered, err := res.Resources.Render("json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(rendered, &doc); err != nil {
		t.Fatal(err)
	}
	diags := []string{}
	for _, d := range res.Diagnostics {
		diags = append(diags, d.String())
	}
	doc["diagnostics"] = diags
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.JSONToYAML(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
