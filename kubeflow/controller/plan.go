package controller

import (
	"cmp"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/kubeflow"
)

// note is what a Service is told in a Warning Event.
type note struct{ reason, text string }

// plan is the pure heart of the annotator: for every Service, the generated annotation it should
// carry ("" for none) and the warning it should get. notebooks holds Notebooks' annotations by
// "namespace/name" (nil when unknown: Kubeflow's defaults apply).
func plan(svcs []corev1.Service, pods map[string][]corev1.Pod, notebooks map[string]map[string]string, o Options) (map[string]string, map[string]note) {
	want := map[string]string{}
	notes := map[string]note{}
	var models []kubeflow.Model
	for i := range svcs {
		svc := &svcs[i]
		if svc.DeletionTimestamp != nil {
			continue
		}
		key := svc.Namespace + "/" + svc.Name
		if owner, ok := kubeflow.NotebookOwner(svc); ok {
			if o.Notebooks {
				ann, known := notebooks[svc.Namespace+"/"+owner.Name]
				planNotebook(svc, key, ann, known, o, want, notes)
			}
			continue
		}
		if !o.Models {
			continue
		}
		r, err := kubeflow.Recognise(svc, pods[svc.Namespace], kubeflow.Options{})
		if err != nil {
			notes[key] = note{kubeflow.ReasonInvalid, err.Error()}
			continue
		}
		if r.Exposed() {
			m := *r.Model
			if holdsShortPath(svc, m, o) {
				// Whoever serves a path keeps it: creation time alone would let any old Service, newly
				// labelled a model server in another namespace, take a model's path away.
				m.Created = time.Time{}
			}
			models = append(models, m)
		}
	}
	slices.SortFunc(models, func(a, b kubeflow.Model) int { return cmp.Compare(a.Key(), b.Key()) })
	for _, a := range kubeflow.Assign(models, o.Template) {
		key := a.Model.Key()
		if a.Conflict != "" {
			notes[key] = note{kubeflow.ReasonConflict, a.Conflict}
		}
		if a.Path == "" {
			continue
		}
		text, err := kubeflow.Generate(a.Model, a.Path, kubeflow.GenerateOptions{ID: o.ID})
		if err != nil {
			notes[key] = note{kubeflow.ReasonInvalid, err.Error()}
			continue
		}
		want[key] = text
	}
	return want, notes
}

// planNotebook routes a notebook's Service. A mistake in its Notebook's annotations keeps the route
// the Service has (the last good one), and the Service is told.
// While its Notebook is unknown (Notebooks unreadable, or the Notebook gone before its Service), a
// route the Service has is kept too: Kubeflow's defaults would break a VS Code or RStudio notebook.
func planNotebook(svc *corev1.Service, key string, annotations map[string]string, known bool, o Options, want map[string]string, notes map[string]note) {
	r, err := kubeflow.RecogniseNotebook(svc, annotations)
	if cur := svc.Annotations[mapping.AnnotationGenerated]; err == nil && r.Notebook != nil && !known && cur != "" {
		want[key] = cur
		return
	}
	if err == nil && r.Notebook == nil {
		return // opted out
	}
	text := ""
	if err == nil {
		text, err = kubeflow.GenerateNotebook(*r.Notebook, kubeflow.GenerateOptions{ID: o.ID})
	}
	if err != nil {
		text = svc.Annotations[mapping.AnnotationGenerated]
		keeps := "; the notebook keeps the route it had"
		if text == "" {
			keeps = "; the notebook is not routed until that is mended"
		}
		notes[key] = note{kubeflow.ReasonInvalidNotebook, err.Error() + keeps}
	}
	want[key] = text
}

// hasNotebook says whether any Service is a notebook's, so that Notebooks are worth reading.
func hasNotebook(svcs []corev1.Service) bool {
	for i := range svcs {
		if kubeflow.IsNotebookService(&svcs[i]) {
			return true
		}
	}
	return false
}

func byNamespace(pods []corev1.Pod) map[string][]corev1.Pod {
	out := map[string][]corev1.Pod{}
	for _, p := range pods {
		out[p.Namespace] = append(out[p.Namespace], p)
	}
	return out
}

// changed says whether an update can change a plan: the caches' objects are already cut down to
// what recognition reads, so anything but the resourceVersion (a Pod's readiness, say) counts.
// Copies are compared: the caches' own objects are shared and must not be written.
func changed(old, cur any) bool {
	o, ok1 := old.(runtime.Object)
	n, ok2 := cur.(runtime.Object)
	if !ok1 || !ok2 {
		return true
	}
	oc, nc := o.DeepCopyObject(), n.DeepCopyObject()
	om, ok1 := oc.(metav1.Object)
	nm, ok2 := nc.(metav1.Object)
	if !ok1 || !ok2 {
		return true
	}
	om.SetResourceVersion("")
	nm.SetResourceVersion("")
	return !equality.Semantic.DeepEqual(oc, nc)
}

// holdsShortPath reports whether the Service's annotation already serves m at the template's path.
func holdsShortPath(svc *corev1.Service, m kubeflow.Model, o Options) bool {
	cur := svc.Annotations[mapping.AnnotationGenerated]
	if cur == "" {
		return false
	}
	text, err := kubeflow.Generate(m, o.Template.Path(m.Namespace, m.Name), kubeflow.GenerateOptions{ID: o.ID})
	return err == nil && text == cur
}
