package controller

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/kfgate/kfgate/kubeflow"
)

// note is what a Service is told in a Warning Event.
type note struct{ reason, text string }

// plan is the pure heart of the annotator: for every Service, the generated annotation it should
// carry ("" for none) and the warning it should get.
func plan(svcs []corev1.Service, pods map[string][]corev1.Pod, o Options) (map[string]string, map[string]note) {
	want := map[string]string{}
	notes := map[string]note{}
	var models []kubeflow.Model
	for i := range svcs {
		svc := &svcs[i]
		if svc.DeletionTimestamp != nil {
			continue
		}
		key := svc.Namespace + "/" + svc.Name
		r, err := kubeflow.Recognise(svc, pods[svc.Namespace], kubeflow.Options{})
		if err != nil {
			notes[key] = note{kubeflow.ReasonInvalid, err.Error()}
			continue
		}
		if r.Exposed() {
			models = append(models, *r.Model)
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

func byNamespace(pods []corev1.Pod) map[string][]corev1.Pod {
	out := map[string][]corev1.Pod{}
	for _, p := range pods {
		out[p.Namespace] = append(out[p.Namespace], p)
	}
	return out
}
