package build

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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

// trustedLine is an in.yaml's "# trusted-namespaces: a,b" line: kfgate serve's --trusted-namespaces.
var trustedLine = regexp.MustCompile(`(?m)^# trusted-namespaces: (\S+)$`)

// goldenOptions are the build options a case asks for in its comments.
func goldenOptions(t *testing.T, in string) Options {
	t.Helper()
	raw, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	var o Options
	if m := trustedLine.FindSubmatch(raw); m != nil {
		o.TrustedNamespaces = strings.Split(string(m[1]), ",")
	}
	return o
}

func renderGolden(t *testing.T, in string) []byte {
	t.Helper()
	objs, err := source.LoadPaths(in)
	if err != nil {
		t.Fatal(err)
	}
	res, err := NewBuilder(goldenOptions(t, in)).Build(objs)
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
