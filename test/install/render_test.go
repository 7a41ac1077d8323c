package install

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// repoRoot is the repository, seen from this package's directory (where `go test` runs it).
const repoRoot = "../.."

// A variant is one kustomization the tests render: the base, each overlay, and the combinations in
// testdata/variants that put every component to use.
type variant struct {
	name string
	dir  string // relative to repoRoot
	// namespace is where kfgate's objects go.
	namespace string
}

var variants = []variant{
	{"base", "kustomize/base", "kfgate"},
	{"standalone", "kustomize/overlays/standalone", "kfgate"},
	{"kubeflow", "kustomize/overlays/kubeflow", "kubeflow"},
	{"standalone-redis-sessions", "test/install/testdata/variants/standalone-redis-sessions", "kfgate"},
	{"standalone-cert-manager-tls", "test/install/testdata/variants/standalone-cert-manager-tls", "kfgate"},
	{"standalone-prometheus", "test/install/testdata/variants/standalone-prometheus", "kfgate"},
	{"kubeflow-all", "test/install/testdata/variants/kubeflow-all", "kubeflow"},
}

func variantNamed(t *testing.T, name string) variant {
	t.Helper()
	for _, b := range variants {
		if b.name == name {
			return b
		}
	}
	t.Fatalf("no variant %q", name)
	return variant{}
}

// kustomizeCommand is how the tests render a kustomization: $KFGATE_KUSTOMIZE (`make test` builds
// kustomize from the Go module proxy and sets it), else kustomize or `kubectl kustomize` on PATH.
// Without any, the test skips, except under CI, where it fails (as test/apiserver does for the API
// server).
func kustomizeCommand(t *testing.T) []string {
	t.Helper()
	if p := os.Getenv("KFGATE_KUSTOMIZE"); p != "" {
		return []string{p, "build"}
	}
	if p, err := exec.LookPath("kustomize"); err == nil {
		return []string{p, "build"}
	}
	if p, err := exec.LookPath("kubectl"); err == nil {
		return []string{p, "kustomize"}
	}
	const missing = "neither KFGATE_KUSTOMIZE, kustomize nor kubectl: run the install tests through `make test`, which builds kustomize"
	if os.Getenv("CI") != "" {
		t.Fatal(missing)
	}
	t.Skip(missing)
	return nil
}

// output is one rendered kustomization.
type output struct {
	text string
	objs []*unstructured.Unstructured
}

type renderOnce struct {
	once sync.Once
	out  *output
	err  error
}

var renders sync.Map // dir → *renderOnce

// render renders the kustomization dir (relative to repoRoot), once per test binary.
func render(t *testing.T, dir string) *output {
	t.Helper()
	bin := kustomizeCommand(t)
	r, _ := renders.LoadOrStore(dir, &renderOnce{})
	ro := r.(*renderOnce)
	ro.once.Do(func() { ro.out, ro.err = kustomize(bin, dir) })
	if ro.err != nil {
		t.Fatal(ro.err)
	}
	return ro.out
}

func kustomize(bin []string, dir string) (*output, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin[0], append(bin[1:], filepath.Join(repoRoot, dir))...) // #nosec G204 -- the test's own paths
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("kustomize %s: %w\n%s", dir, err, stderr.String())
	}
	objs, err := parseObjects(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	return &output{text: stdout.String(), objs: objs}, nil
}

// parseObjects reads a multi-document YAML stream of Kubernetes objects.
func parseObjects(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if m == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("an object without kind or name: %v", m)
		}
		objs = append(objs, u)
	}
}

// ofKind returns the objects of one kind, in output order.
func (o *output) ofKind(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, u := range o.objs {
		if u.GetKind() == kind {
			out = append(out, u)
		}
	}
	return out
}

// get returns the object of that kind and name (the name before kustomize's hash suffix, for
// generated ConfigMaps and Secrets), or nil.
func (o *output) get(kind, name string) *unstructured.Unstructured {
	for _, u := range o.ofKind(kind) {
		if u.GetName() == name || generatedFrom(u, name) {
			return u
		}
	}
	return nil
}

// generatedFrom reports whether u is a generated ConfigMap or Secret named name plus kustomize's
// ten-character hash.
func generatedFrom(u *unstructured.Unstructured, name string) bool {
	if u.GetKind() != "ConfigMap" && u.GetKind() != "Secret" {
		return false
	}
	rest, ok := strings.CutPrefix(u.GetName(), name+"-")
	return ok && len(rest) == 10 && !strings.Contains(rest, "-")
}

func convert[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	var v T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, &v, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return &v
}

func (o *output) deployments(t *testing.T) []*appsv1.Deployment {
	return allOf[appsv1.Deployment](t, o, "Deployment")
}

func (o *output) deployment(t *testing.T, name string) *appsv1.Deployment {
	return oneOf[appsv1.Deployment](t, o, "Deployment", name)
}

func (o *output) services(t *testing.T) []*corev1.Service {
	return allOf[corev1.Service](t, o, "Service")
}

func (o *output) service(t *testing.T, name string) *corev1.Service {
	return oneOf[corev1.Service](t, o, "Service", name)
}

func (o *output) configMap(t *testing.T, name string) *corev1.ConfigMap {
	return oneOf[corev1.ConfigMap](t, o, "ConfigMap", name)
}

// allOf converts every object of a kind of the rendering.
func allOf[T any](t *testing.T, o *output, kind string) []*T {
	t.Helper()
	var out []*T
	for _, u := range o.ofKind(kind) {
		out = append(out, convert[T](t, u))
	}
	return out
}

// oneOf converts the named object of a kind, failing the test when the rendering has none.
func oneOf[T any](t *testing.T, o *output, kind, name string) *T {
	t.Helper()
	u := o.get(kind, name)
	if u == nil {
		t.Fatalf("no %s %s", kind, name)
	}
	return convert[T](t, u)
}

func container(t *testing.T, d *appsv1.Deployment, name string) corev1.Container {
	t.Helper()
	i := slices.IndexFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return c.Name == name })
	if i < 0 {
		t.Fatalf("Deployment %s has no container %s", d.Name, name)
	}
	return d.Spec.Template.Spec.Containers[i]
}

// flag returns the value of --name=VALUE in args.
func flag(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// containerPort returns the number of a container's named port.
func containerPort(c corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}
