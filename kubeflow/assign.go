package kubeflow

import (
	"cmp"
	"fmt"
	"slices"
)

// Assignment is where one model is served.
type Assignment struct {
	Model Model  `json:"model"`
	Path  string `json:"path,omitempty"` // "": not served (not exposed, or its path is taken)
	// Conflict says why the model does not have the template's path; the controller posts it as a
	// Warning Event (ReasonConflict) on the model's Service.
	Conflict string `json:"conflict,omitempty"`
}

// Assign gives every model its path under t, in the order of models. When models would share a
// path, the oldest (Service creation time, then namespace, then Service name) keeps it; a younger
// one from another namespace falls back to t.Namespaced() (/models/<namespace>/<name>/), and one
// from the same namespace (or that finds the fallback taken too) is not served. Models that are not
// exposed (Port 0) claim no path. The result depends only on the set of models, not their order.
func Assign(models []Model, t Template) []Assignment {
	order := make([]int, len(models))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return older(models[a], models[b]) })
	fallback := t.Namespaced()
	holder := map[string]int{} // path → index of the model served there
	out := make([]Assignment, len(models))
	for _, i := range order {
		m := models[i]
		out[i].Model = m
		if m.Port == 0 {
			continue
		}
		p := t.Path(m.Namespace, m.Name)
		first, taken := holder[p]
		switch {
		case !taken:
			out[i].Path = p
		case models[first].Namespace != m.Namespace && !t.HasNamespace():
			if _, alsoTaken := holder[fallback.Path(m.Namespace, m.Name)]; !alsoTaken {
				out[i].Path = fallback.Path(m.Namespace, m.Name)
				out[i].Conflict = fmt.Sprintf("model %s: %s is served by the older Service %s, so this one is served at %s",
					m.Name, p, models[first].Key(), out[i].Path)
				break
			}
			fallthrough
		default:
			out[i].Conflict = fmt.Sprintf("model %s: %s is served by the older Service %s, so this one is not served; set %s to tell them apart",
				m.Name, p, models[first].Key(), KeyModelName)
		}
		if out[i].Path != "" {
			holder[out[i].Path] = i
		}
	}
	return out
}

// older orders models by age: creation time, then namespace, then Service name.
func older(a, b Model) int {
	return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Service, b.Service))
}
