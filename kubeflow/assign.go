package kubeflow

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"
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
	dropShadowed(out, holder)
	return out
}

// dropShadowed takes back a path that lies under another model's path where that model's own API
// lives: /models/mnist/classify/ (model "classify" of namespace "mnist", on the fallback path)
// would capture POST /models/mnist/classify from the model "mnist".
func dropShadowed(out []Assignment, holder map[string]int) {
	for i := range out {
		p := out[i].Path
		if p == "" {
			continue
		}
		parent, last := path.Split(strings.TrimSuffix(p, "/"))
		j, under := holder[parent]
		if !under || j == i || !apiWord(last) {
			continue
		}
		out[i].Conflict = fmt.Sprintf("model %s: %s lies in the API of the model at %s (%s), so this one is not served; set %s to rename it",
			out[i].Model.Name, p, parent, out[i].Model.Key(), KeyModelName)
		out[i].Path = ""
	}
}

// apiWord reports whether a path segment is part of some model API's surface.
func apiWord(seg string) bool {
	if seg == "versions" || seg == "labels" {
		return true
	}
	for p := range apis {
		for _, c := range Calls(p) {
			if c == seg {
				return true
			}
		}
	}
	return false
}

// older orders models by age: creation time, then namespace, then Service name.
func older(a, b Model) int {
	return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Service, b.Service))
}
