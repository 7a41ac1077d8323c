package build

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/test/routeeval"
)

var update = flag.Bool("update", false, "rewrite testdata/*.out.yaml from the current output and delete stale ones")

// TestGolden renders every testdata/<case>.in.yaml and compares with <case>.out.yaml: the diagnostics
// (as `kfgate lint` prints them) and the Envoy resources (as `kfgate render` prints them).
func TestGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) < 40 {
		t.Errorf("only %d golden cases; the suite promises at least 40", len(ins))
	}
	want := map[string]bool{}
	for _, in := range ins {
		out := strings.TrimSuffix(in, ".in.yaml") + ".out.yaml"
		want[out] = true
		t.Run(strings.TrimSuffix(filepath.Base(in), ".in.yaml"), func(t *testing.T) {
			got := renderGolden(t, in)
			if *update {
				if err := os.WriteFile(out, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			exp, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run `make testdata`)", err)
			}
			if string(exp) != string(got) {
				t.Errorf("%s differs from the current output (run `make testdata` and review the diff):\n%s", out, firstDiff(string(exp), string(got)))
			}
		})
	}
	outs, _ := filepath.Glob("testdata/*.out.yaml")
	for _, out := range outs {
		if want[out] {
			continue
		}
		if *update {
			if err := os.Remove(out); err != nil {
				t.Fatal(err)
			}
		} else {
			t.Errorf("%s has no matching .in.yaml (run `make testdata` to delete it)", out)
		}
	}
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

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + itoa(uint32(i+1)) + ":\n  want: " + x + "\n  got:  " + y
		}
	}
	return ""
}
