package kube

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kfgate/kfgate/gateway/mapping"
)

// Event reasons beyond the diagnostics' own (InvalidMapping, MappingConflict, ...).
const (
	// ReasonValid: a Service whose documents had errors now has none.
	ReasonValid = "ConfigurationValid"
	// eventAction is the events.k8s.io action of every kfgate Event.
	eventAction = "Configure"
	// maxNote is the events.k8s.io limit on an Event's note.
	maxNote = 1024
)

// event is one Event to write on a Service.
type event struct {
	namespace, name string
	uid             types.UID
	warning         bool
	reason, note    string
}

// serviceStatus is what the planner remembers of a Service: its diagnostics (as text), whether any
// is an error, and the Warning that describes them.
type serviceStatus struct {
	digest  string
	broken  bool
	uid     string
	warning event
}

// planner turns each build's diagnostics into the Events that tell authors about changes, and nothing
// more: a Service is told once when its set of diagnostics changes, not on every rebuild. Every replica
// plans, so that a new leader knows the current problems: it states them once (current), then
// only changes.
type planner struct {
	mu   sync.Mutex
	last map[string]serviceStatus // "namespace/name"
}

func newPlanner() *planner { return &planner{last: map[string]serviceStatus{}} }

// forget drops a deleted Service: nothing is said about it any more.
func (p *planner) forget(namespace, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.last, namespace+"/"+name)
}

// current lists the Warnings that describe every Service's problems now, by Service.
func (p *planner) current() []event {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]event, 0, len(p.last))
	for _, st := range p.last {
		out = append(out, st.warning)
	}
	sortEvents(out)
	return out
}

// plan compares diags (every diagnostic of a build) with what was last said.
func (p *planner) plan(diags []mapping.Diagnostic) []event {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := map[string][]mapping.Diagnostic{}
	for _, d := range diags {
		if d.Source.Kind != "Service" || d.Severity == mapping.SeverityInfo {
			continue
		}
		key := d.Source.Namespace + "/" + d.Source.Name
		now[key] = append(now[key], d)
	}
	var out []event
	for key, ds := range now {
		d := digest(ds)
		prev, seen := p.last[key]
		if seen && prev.digest == d {
			continue
		}
		st := serviceStatus{digest: d, broken: mapping.HasErrors(ds), uid: ds[0].Source.UID, warning: warningEvent(ds)}
		p.last[key] = st
		if prev.broken && !st.broken {
			out = append(out, validEvent(ds[0].Source))
		}
		out = append(out, st.warning)
	}
	for key, prev := range p.last {
		if _, ok := now[key]; ok {
			continue
		}
		delete(p.last, key)
		if prev.broken {
			ns, name, _ := strings.Cut(key, "/")
			out = append(out, validEvent(mapping.Source{Namespace: ns, Name: name, UID: prev.uid}))
		}
	}
	sortEvents(out)
	return out
}

// sortEvents orders Events by Service, keeping the order of one Service's Events.
func sortEvents(evs []event) {
	slices.SortStableFunc(evs, func(a, b event) int {
		return cmp.Or(cmp.Compare(a.namespace, b.namespace), cmp.Compare(a.name, b.name))
	})
}

func digest(ds []mapping.Diagnostic) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// warningEvent describes a Service's diagnostics; its reason is that of the first error, else of the
// first warning (diagnostics arrive sorted by place).
func warningEvent(ds []mapping.Diagnostic) event {
	first := ds[0]
	for _, d := range ds {
		if d.Severity == mapping.SeverityError {
			first = d
			break
		}
	}
	lines := make([]string, 0, len(ds))
	for _, d := range ds {
		lines = append(lines, describe(d))
	}
	note := strings.Join(lines, "; ")
	if len(ds) > 1 {
		note = fmt.Sprintf("%d problems: %s", len(ds), note)
	}
	return event{namespace: first.Source.Namespace, name: first.Source.Name, uid: types.UID(first.Source.UID),
		warning: true, reason: first.Reason, note: truncate(note, maxNote)}
}

func validEvent(src mapping.Source) event {
	return event{namespace: src.Namespace, name: src.Name, uid: types.UID(src.UID), reason: ReasonValid,
		note: "every kfgate document of this Service is valid and served"}
}

// describe says one diagnostic without repeating the Service: annotation, document, field, cause.
func describe(d mapping.Diagnostic) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", d.Severity)
	if d.Source.Key != "" {
		fmt.Fprintf(&b, " in %s", d.Source.Key)
	}
	if d.DocKind != "" || d.DocName != "" {
		fmt.Fprintf(&b, ": %s %q", orDash(d.DocKind), d.DocName)
	}
	if d.Field != "" {
		fmt.Fprintf(&b, " field %s", d.Field)
	}
	fmt.Fprintf(&b, ": %s", d.Message)
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// regarding is the object an Event is about.
func (e event) regarding() *corev1.Service {
	svc := &corev1.Service{}
	svc.Namespace, svc.Name, svc.UID = e.namespace, e.name, e.uid
	return svc
}
