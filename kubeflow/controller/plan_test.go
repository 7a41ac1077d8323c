package controller

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/kubeflow"
)

func svc(ns, name string, created time.Time, labels map[string]string) corev1.Service {
	return corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, CreationTimestamp: metav1.NewTime(created)},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http-tf-serving", Port: 8500}}}}
}

func TestPlan(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	svcs := []corev1.Service{
		svc("b", "mnist", t0.Add(time.Hour), nil),
		svc("a", "mnist", t0, nil),
		svc("a", "out", t0, map[string]string{kubeflow.KeyExpose: "false"}),
		svc("a", "bad", t0, map[string]string{kubeflow.KeyExpose: "maybe"}),
		{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "web"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
	}
	want, notes := plan(svcs, nil, nil, Options{Models: true, Notebooks: true})
	if !strings.Contains(want["a/mnist"], "prefix: /models/mnist") || !strings.Contains(want["b/mnist"], "/models/b/mnist") {
		t.Fatalf("paths: a %q\nb %q", want["a/mnist"], want["b/mnist"])
	}
	for _, k := range []string{"a/out", "a/bad", "a/web"} {
		if want[k] != "" {
			t.Errorf("%s gets an annotation", k)
		}
	}
	if notes["b/mnist"].reason != kubeflow.ReasonConflict || notes["a/mnist"].text != "" {
		t.Errorf("conflict notes %+v", notes)
	}
	if notes["a/bad"].reason != kubeflow.ReasonInvalid {
		t.Errorf("invalid expose value: %+v", notes["a/bad"])
	}
	// The same input plans the same output, whatever the order of the Services.
	svcs[0], svcs[1] = svcs[1], svcs[0]
	again, _ := plan(svcs, nil, nil, Options{Models: true, Notebooks: true})
	for k, v := range want {
		if again[k] != v {
			t.Errorf("%s differs with the order of Services", k)
		}
	}
}

// The model that serves a path keeps it, even against an older Service newly labelled a model
// server elsewhere.
func TestPlanIncumbentKeepsItsPath(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	incumbent := svc("b", "mnist", t0.Add(time.Hour), nil)
	first, _ := plan([]corev1.Service{incumbent}, nil, nil, Options{Models: true, Notebooks: true})
	incumbent.Annotations = map[string]string{mapping.AnnotationGenerated: first["b/mnist"]}
	squatter := svc("a", "mnist", t0, nil) // older, but late to the path
	want, notes := plan([]corev1.Service{incumbent, squatter}, nil, nil, Options{Models: true, Notebooks: true})
	if want["b/mnist"] != first["b/mnist"] {
		t.Fatal("the incumbent lost its path")
	}
	if !strings.Contains(want["a/mnist"], "/models/a/mnist") || notes["a/mnist"].reason != kubeflow.ReasonConflict {
		t.Fatalf("the newcomer: %q %+v", want["a/mnist"], notes["a/mnist"])
	}
}

func TestChangedIgnoresResourceVersion(t *testing.T) {
	a := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", ResourceVersion: "1"}}
	b := a.DeepCopy()
	b.ResourceVersion = "2"
	if changed(a, b) {
		t.Fatal("a resourceVersion alone counted as a change")
	}
	if a.ResourceVersion != "1" || b.ResourceVersion != "2" {
		t.Fatal("changed wrote to the cache's objects")
	}
	b.Labels = map[string]string{"app": "x"}
	if !changed(a, b) {
		t.Fatal("a label change was missed")
	}
}

func notebookSvc(ns, name string) corev1.Service {
	yes := true
	return corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "kubeflow.org/v1", Kind: kubeflow.NotebookKind, Name: name, UID: "u", Controller: &yes}}},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http-" + name, Port: 80}}}}
}

// Notebooks are routed at /notebook/<ns>/<name>/, following their Notebook's annotations when they
// are known; a broken annotation keeps the last good route.
func TestPlanNotebooks(t *testing.T) {
	jupyter, vscode, broken, fresh, out := notebookSvc("u", "jupyter"), notebookSvc("u", "vscode"), notebookSvc("u", "broken"), notebookSvc("u", "fresh"), notebookSvc("u", "out")
	out.Annotations = map[string]string{kubeflow.KeyExpose: "false"}
	broken.Annotations = map[string]string{mapping.AnnotationGenerated: "the last good text"}
	bad := map[string]string{kubeflow.AnnotationNotebookRewrite: "/../x"}
	nbs := map[string]map[string]string{"u/vscode": {kubeflow.AnnotationNotebookRewrite: "/"}, "u/broken": bad, "u/fresh": bad}
	want, notes := plan([]corev1.Service{jupyter, vscode, broken, fresh, out}, nil, nbs, Options{Models: true, Notebooks: true})
	if !strings.Contains(want["u/jupyter"], "rewrite: /notebook/u/jupyter/\n") || !strings.Contains(want["u/jupyter"], "use_websocket: true") {
		t.Errorf("jupyter: %q", want["u/jupyter"])
	}
	if !strings.Contains(want["u/vscode"], "prefix: /notebook/u/vscode/\nrewrite: /\n") {
		t.Errorf("vscode: %q", want["u/vscode"])
	}
	if want["u/broken"] != "the last good text" || notes["u/broken"].reason != kubeflow.ReasonInvalidNotebook ||
		!strings.Contains(notes["u/broken"].text, "keeps the route it had") {
		t.Errorf("broken: %q %+v", want["u/broken"], notes["u/broken"])
	}
	if want["u/fresh"] != "" || !strings.Contains(notes["u/fresh"].text, "not routed") {
		t.Errorf("fresh: %q %+v", want["u/fresh"], notes["u/fresh"])
	}
	if v, ok := want["u/out"]; ok || v != "" {
		t.Errorf("opted out: %q", v)
	}
	// Unknown Notebooks (no CRD, no RBAC): Kubeflow's defaults for a new notebook; a routed one keeps
	// its route, as does one whose Notebook is gone before its Service.
	want, _ = plan([]corev1.Service{vscode}, nil, nil, Options{Models: true, Notebooks: true})
	if !strings.Contains(want["u/vscode"], "rewrite: /notebook/u/vscode/\n") {
		t.Errorf("vscode without its Notebook: %q", want["u/vscode"])
	}
	routed := vscode.DeepCopy()
	routed.Annotations = map[string]string{mapping.AnnotationGenerated: "vscode's route"}
	for _, nbs := range []map[string]map[string]string{nil, {"u/other": {}}} {
		if want, _ = plan([]corev1.Service{*routed}, nil, nbs, Options{Notebooks: true}); want["u/vscode"] != "vscode's route" {
			t.Errorf("a routed notebook whose Notebook is unknown (%v): %q", nbs, want["u/vscode"])
		}
	}
}

// Each helper can be turned off on its own: the other's Services are then left without a
// generated annotation (and one kfgate-kubeflow wrote is removed by the empty apply).
func TestPlanHelpersApart(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	svcs := []corev1.Service{svc("a", "mnist", t0, nil), notebookSvc("u", "jupyter")}
	models, _ := plan(svcs, nil, nil, Options{Models: true})
	if models["a/mnist"] == "" || models["u/jupyter"] != "" {
		t.Errorf("models only: %q", models)
	}
	notebooks, _ := plan(svcs, nil, nil, Options{Notebooks: true})
	if notebooks["a/mnist"] != "" || notebooks["u/jupyter"] == "" {
		t.Errorf("notebooks only: %q", notebooks)
	}
}
