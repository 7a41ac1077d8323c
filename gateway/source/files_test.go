package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kfgate/kfgate/gateway/mapping"
)

func TestParseFile(t *testing.T) {
	text := `# a Deployment is none of kfgate's business
apiVersion: apps/v1
kind: Deployment
metadata:
  name: skipped
---
apiVersion: v1
kind: Service
metadata:
  name: app
  annotations:
    getambassador.io/config: |
      apiVersion: ambassador/v0
      kind: Mapping
      name: app
      prefix: /app/
      service: app
    kfgate.io/config: "apiVersion: kfgate.io/v1\nkind: Mapping\nname: quoted\nprefix: /q/\nservice: app\n"
spec:
  ports:
  - port: 80
---
apiVersion: getambassador.io/v2
kind: Module
name: ambassador
config: {}
---
apiVersion: v1
kind: Service
metadata: [not, a, mapping]
---
key: [unclosed
`
	var objs Objects
	ParseFile(&objs, "f.yaml", text)
	if len(objs.Services) != 1 || objs.Services[0].Namespace != "default" {
		t.Fatalf("services: %+v", objs.Services)
	}
	lines := map[string]int{}
	for _, tx := range objs.Texts {
		lines[tx.Source.Key+tx.Source.Kind] = tx.Source.Line
	}
	// The block scalar's text starts on the line after its key; a quoted one on the key's line; a bare
	// document on its first line.
	if lines[mapping.AnnotationAmbassador+"Service"] != 13 || lines[mapping.AnnotationKfgate+"Service"] != 18 || lines[""] != 23 {
		t.Errorf("text lines %v", lines)
	}
	if len(objs.Diagnostics) != 2 {
		t.Fatalf("want a diagnostic for the malformed Service and one for the broken YAML, got %v", objs.Diagnostics)
	}
	if d := objs.Diagnostics[1]; d.Line != 32 || !strings.Contains(d.Message, "invalid YAML") || strings.Contains(d.Message, "line 1") {
		t.Errorf("broken YAML reported as %+v", d)
	}
}

func TestLoadPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	doc := "apiVersion: ambassador/v0\nkind: Mapping\nname: %s\nprefix: /x/\nservice: x\n"
	write("b.yaml", strings.Replace(doc, "%s", "b", 1))
	write("sub/a.yml", strings.Replace(doc, "%s", "a", 1))
	write("notes.txt", "ignored")
	write(".hidden/c.yaml", strings.Replace(doc, "%s", "c", 1))
	objs, err := LoadPaths(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, tx := range objs.Texts {
		files = append(files, filepath.Base(tx.Source.File))
	}
	if strings.Join(files, ",") != "b.yaml,a.yml" {
		t.Errorf("read %v, want b.yaml then sub/a.yml (sorted paths, no hidden directories, YAML only)", files)
	}
	if _, err := LoadPaths(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing path must be an error")
	}
}
