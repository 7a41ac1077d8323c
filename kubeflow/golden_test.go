package kubeflow

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	k8syaml "sigs.k8s.io/yaml"

	"github.com/kfgate/kfgate/gateway/build"
	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/test/golden"
)

var update = flag.Bool("update", false, "rewrite testdata/*.out.yaml from the current output and delete stale ones")

// goldenCase is a testdata/<case>.in.yaml: Services, the pods they may select, and options.
type goldenCase struct {
	services  []*corev1.Service
	pods      []corev1.Pod
	notebooks map[string]map[string]string // namespace/name → a Notebook's annotations
	opts      goldenOptions
}

// goldenOptions is the in.yaml document of kind Options.
type goldenOptions struct {
	Template  string `yaml:"template"`
	ModelName string `yaml:"modelName"`
	ID        string `yaml:"id"`
}

// goldenOutput is a <case>.out.yaml.
type goldenOutput struct {
	Template string         `yaml:"template"`
	Services []goldenResult `yaml:"services"`
}

// goldenResult is one Service's line in <case>.out.yaml.
type goldenResult struct {
	Service    string       `yaml:"service"`
	Status     Status       `yaml:"status,omitempty"`
	Model      *goldenModel `yaml:"model,omitempty"`
	Notebook   *Notebook    `yaml:"notebook,omitempty"`
	Reasons    []string     `yaml:"reasons,omitempty"`
	Error      string       `yaml:"error,omitempty"`
	Path       string       `yaml:"path,omitempty"`
	Conflict   string       `yaml:"conflict,omitempty"`
	Annotation string       `yaml:"annotation,omitempty"`
}

// goldenModel is a Model as out.yaml shows it.
type goldenModel struct {
	Kind        Kind     `yaml:"kind"`
	Name        string   `yaml:"name"`
	Namespace   string   `yaml:"namespace"`
	Service     string   `yaml:"service"`
	Port        int32    `yaml:"port,omitempty"`
	Protocol    Protocol `yaml:"protocol"`
	HostRewrite string   `yaml:"hostRewrite,omitempty"`
	Created     string   `yaml:"created,omitempty"`
}

func goldenOf(m *Model) *goldenModel {
	if m == nil {
		return nil
	}
	g := &goldenModel{Kind: m.Kind, Name: m.Name, Namespace: m.Namespace, Service: m.Service, Port: m.Port, Protocol: m.Protocol, HostRewrite: m.HostRewrite}
	if !m.Created.IsZero() {
		g.Created = m.Created.UTC().Format(time.RFC3339)
	}
	return g
}

// TestGolden recognises every Service of testdata/<case>.in.yaml, assigns paths across them and
// generates their annotations, and compares with <case>.out.yaml. Every generated annotation is
// then built by kfgate's own pipeline, which must report nothing.
func TestGolden(t *testing.T) {
	golden.Cases(t, "testdata", ".in.yaml", ".out.yaml", *update, "go test ./kubeflow -run TestGolden -update", runGolden)
}

func runGolden(t *testing.T, in string) []byte {
	t.Helper()
	c := readGolden(t, in)
	tmpl := Template{}
	if c.opts.Template != "" {
		var err error
		if tmpl, err = ParseTemplate(c.opts.Template); err != nil {
			t.Fatal(err)
		}
	}
	results := make([]goldenResult, len(c.services))
	var objs source.Objects
	var models []Model
	var modelOf []int // index in results of each model
	for i, svc := range c.services {
		results[i].Service = svc.Namespace + "/" + svc.Name
		if IsNotebookService(svc) {
			goldenNotebook(t, c, svc, &results[i], &objs)
			continue
		}
		rec, err := Recognise(svc, c.pods, Options{ModelName: c.opts.ModelName})
		if err != nil {
			results[i].Error = err.Error()
			continue
		}
		results[i].Status, results[i].Model, results[i].Reasons = rec.Status, goldenOf(rec.Model), rec.Reasons
		if rec.Exposed() {
			models = append(models, *rec.Model)
			modelOf = append(modelOf, i)
		}
	}
	for j, a := range Assign(models, tmpl) {
		r := &results[modelOf[j]]
		r.Path, r.Conflict = a.Path, a.Conflict
		if a.Path == "" {
			continue
		}
		text, err := Generate(a.Model, a.Path, GenerateOptions{ID: c.opts.ID})
		if err != nil {
			r.Error = err.Error()
			continue
		}
		r.Annotation = text
		checkAsTenant(t, a.Model.Namespace, a.Model.Service, text, tmpl, c.opts.ID)
		svc := c.services[modelOf[j]].DeepCopy()
		svc.Annotations = map[string]string{mapping.AnnotationGenerated: text}
		objs.Texts = append(objs.Texts, source.ServiceTexts(svc, "", nil)...)
		objs.Services = append(objs.Services, svc)
	}
	res, err := build.NewBuilder(build.Options{ID: c.opts.ID}).Build(objs)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Diagnostics {
		t.Errorf("the pipeline reports on a generated annotation: %s", d)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(goldenOutput{Template: tmpl.String(), Services: results}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// goldenNotebook recognises a notebook's Service, with its Notebook's annotations when the case has
// them, and generates its annotation.
func goldenNotebook(t *testing.T, c goldenCase, svc *corev1.Service, r *goldenResult, objs *source.Objects) {
	t.Helper()
	owner, _ := NotebookOwner(svc)
	rec, err := RecogniseNotebook(svc, c.notebooks[svc.Namespace+"/"+owner.Name])
	if err != nil {
		r.Error = err.Error()
		return
	}
	r.Notebook, r.Reasons = rec.Notebook, rec.Reasons
	if rec.Notebook == nil {
		return
	}
	r.Path = rec.Notebook.Path()
	text, err := GenerateNotebook(*rec.Notebook, GenerateOptions{ID: c.opts.ID})
	if err != nil {
		r.Error = err.Error()
		return
	}
	r.Annotation = text
	checkAsTenant(t, svc.Namespace, svc.Name, text, Template{}, c.opts.ID)
	svc = svc.DeepCopy()
	svc.Annotations = map[string]string{mapping.AnnotationGenerated: text}
	objs.Texts = append(objs.Texts, source.ServiceTexts(svc, "", nil)...)
	objs.Services = append(objs.Services, svc)
}

// checkAsTenant decodes a generated annotation as the control plane does for a namespace it does not
// trust (--trusted-namespaces), with serve's default path spaces for the template: the Mappings kfgate
// generates in profiles' namespaces must pass the tenant rules.
func checkAsTenant(t *testing.T, ns, svc, text string, tmpl Template, id string) {
	t.Helper()
	opts := mapping.Options{ID: id, Trusted: func(string) bool { return false },
		TenantPaths: []string{"/{namespace}/", "/notebook/{namespace}/", tmpl.TenantSpace()}}
	_, diags := mapping.Decode(mapping.Source{Kind: "Service", Namespace: ns, Name: svc, Key: mapping.AnnotationGenerated}, text, opts)
	for _, d := range diags {
		t.Errorf("a generated annotation is refused in a tenant's namespace: %s", d)
	}
}

// readGolden reads the documents of an in.yaml: Services, Pods and at most one Options.
func readGolden(t *testing.T, in string) goldenCase {
	t.Helper()
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	var c goldenCase
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var node yaml.Node
		if err := dec.Decode(&node); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		var head struct {
			Kind string `yaml:"kind"`
		}
		if err := node.Decode(&head); err != nil {
			t.Fatal(err)
		}
		raw, err := yaml.Marshal(&node)
		if err != nil {
			t.Fatal(err)
		}
		switch head.Kind {
		case "Service":
			svc := &corev1.Service{}
			mustUnmarshal(t, raw, svc)
			c.services = append(c.services, svc)
		case "Pod":
			var p corev1.Pod
			mustUnmarshal(t, raw, &p)
			c.pods = append(c.pods, p)
		case "Notebook": // only its metadata matters
			var nb struct {
				Metadata struct {
					Name        string            `yaml:"name"`
					Namespace   string            `yaml:"namespace"`
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"metadata"`
			}
			if err := node.Decode(&nb); err != nil {
				t.Fatal(err)
			}
			if c.notebooks == nil {
				c.notebooks = map[string]map[string]string{}
			}
			c.notebooks[nb.Metadata.Namespace+"/"+nb.Metadata.Name] = nb.Metadata.Annotations
		case "Options":
			if err := node.Decode(&c.opts); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("%s: a document of kind %q; want Service, Pod, Notebook or Options", in, head.Kind)
		}
	}
	return c
}

func mustUnmarshal(t *testing.T, raw []byte, into any) {
	t.Helper()
	if err := k8syaml.UnmarshalStrict(raw, into); err != nil {
		t.Fatal(err)
	}
}
