package kube

import (
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source"
)

func diag(ns, name string, sev mapping.Severity, reason, field, msg string) mapping.Diagnostic {
	return mapping.Diagnostic{Source: mapping.Source{Kind: "Service", Namespace: ns, Name: name, UID: "uid-" + name,
		Key: mapping.AnnotationAmbassador}, DocKind: "Mapping", DocName: name, Field: field, Severity: sev, Reason: reason, Message: msg}
}

func TestPlannerSaysOnlyChanges(t *testing.T) {
	p := newPlanner()
	bad := diag("ns", "bad", mapping.SeverityError, "InvalidMapping", "timeout_ms", "want an integer")
	steps := []struct {
		name  string
		diags []mapping.Diagnostic
		want  []string // "Type Reason ns/name"
	}{
		{"first error", []mapping.Diagnostic{bad}, []string{"Warning InvalidMapping ns/bad"}},
		{"same again", []mapping.Diagnostic{bad}, nil},
		{"infos and files are not Events", []mapping.Diagnostic{bad,
			diag("ns", "x", mapping.SeverityInfo, "Ignored", "", "other id"),
			{Source: mapping.Source{File: "a.yaml"}, Severity: mapping.SeverityError, Reason: "InvalidYAML"}}, nil},
		{"a second problem", []mapping.Diagnostic{bad, diag("ns", "bad", mapping.SeverityWarning, "UnknownField", "prefx", "unknown")},
			[]string{"Warning InvalidMapping ns/bad"}},
		{"error fixed, warning stays", []mapping.Diagnostic{diag("ns", "bad", mapping.SeverityWarning, "UnknownField", "prefx", "unknown")},
			[]string{"Normal ConfigurationValid ns/bad", "Warning UnknownField ns/bad"}},
		{"all clean: a warning going is not news", nil, nil},
		{"broken again, then deleted", []mapping.Diagnostic{bad}, []string{"Warning InvalidMapping ns/bad"}},
	}
	for _, s := range steps {
		got := describeEvents(p.plan(s.diags))
		if strings.Join(got, "|") != strings.Join(s.want, "|") {
			t.Errorf("%s: Events %q, want %q", s.name, got, s.want)
		}
	}
	if got := describeEvents(p.current()); strings.Join(got, "|") != "Warning InvalidMapping ns/bad" {
		t.Errorf("current problems %q, want the Warning of ns/bad", got)
	}
	p.forget("ns", "bad")
	if got := p.current(); len(got) != 0 {
		t.Errorf("a deleted Service's problems are current: %v", describeEvents(got))
	}
	if got := p.plan(nil); len(got) != 0 {
		t.Errorf("a deleted Service is told %v", describeEvents(got))
	}
	if got := p.plan([]mapping.Diagnostic{bad}); len(got) != 1 || got[0].uid != "uid-bad" {
		t.Errorf("a Service created again is told %v", got)
	}
	if got := p.plan(nil); len(got) != 1 || got[0].reason != ReasonValid || got[0].uid != "uid-bad" {
		t.Errorf("a fix is told %+v, want one ConfigurationValid on the Service's UID", got)
	}
}

func describeEvents(evs []event) []string {
	var out []string
	for _, e := range evs {
		typ := "Normal"
		if e.warning {
			typ = "Warning"
		}
		out = append(out, typ+" "+e.reason+" "+e.namespace+"/"+e.name)
	}
	return out
}

func TestWarningNote(t *testing.T) {
	e := warningEvent([]mapping.Diagnostic{
		diag("ns", "a", mapping.SeverityWarning, "UnknownField", "prefx", "unknown field; did you mean prefix?"),
		diag("ns", "a", mapping.SeverityError, "InvalidMapping", "cors.origins[1]", "not a URL"),
	})
	want := `2 problems: warning in getambassador.io/config: Mapping "a" field prefx: unknown field; did you mean prefix?; ` +
		`error in getambassador.io/config: Mapping "a" field cors.origins[1]: not a URL`
	if e.note != want || e.reason != "InvalidMapping" || !e.warning || e.uid != "uid-a" {
		t.Errorf("got %+v\nwant note %q, reason InvalidMapping (the error's)", e, want)
	}
	long := warningEvent([]mapping.Diagnostic{diag("ns", "a", mapping.SeverityError, "InvalidMapping", "f", strings.Repeat("é", 2000))})
	if len(long.note) > maxNote || !strings.HasSuffix(long.note, "…") || !strings.HasPrefix(long.note, "error in") {
		t.Errorf("a long note is %d bytes, ends %q", len(long.note), long.note[len(long.note)-8:])
	}
}

func TestDueTime(t *testing.T) {
	d := source.Debounce{Holdoff: 20 * time.Millisecond, Max: 200 * time.Millisecond}
	t0 := time.Unix(1000, 0)
	cases := []struct {
		name                        string
		prevLast, first, last, want time.Duration // relative to t0
	}{
		{"a lone change after a quiet spell is built at once", -time.Second, 0, 0, 0},
		{"so is a burst's first change", -20 * time.Millisecond, 0, 5 * time.Millisecond, 0},
		{"a change close after another waits a holdoff", -5 * time.Millisecond, 0, 0, 20 * time.Millisecond},
		{"the holdoff runs from the last change", -5 * time.Millisecond, 0, 50 * time.Millisecond, 70 * time.Millisecond},
		{"but ends at most Max after the first", -5 * time.Millisecond, 0, 190 * time.Millisecond, 200 * time.Millisecond},
		{"even under a steady stream", -5 * time.Millisecond, 0, time.Second, 200 * time.Millisecond},
	}
	for _, c := range cases {
		got := dueTime(t0.Add(c.prevLast), t0.Add(c.first), t0.Add(c.last), d).Sub(t0)
		if got != c.want {
			t.Errorf("%s: due at +%s, want +%s", c.name, got, c.want)
		}
	}
}

func TestQueueCoalesces(t *testing.T) {
	q := newQueue()
	now := time.Unix(1000, 0)
	for i := range 5 {
		q.add(change{kind: kindSlice, namespace: "ns", name: "a", slice: &discoveryv1.EndpointSlice{}}, now.Add(time.Duration(i)*time.Millisecond))
	}
	q.add(change{kind: kindService, namespace: "ns", name: "a"}, now.Add(9*time.Millisecond)) // same name, other kind
	q.prevLast = now.Add(-time.Millisecond)                                                   // they follow a change closely: they wait out the holdoff
	due, ok := q.due(source.DefaultDebounce)
	if !ok || due != now.Add(29*time.Millisecond) {
		t.Errorf("due %v %v, want 20 ms after the last change", due, ok)
	}
	batch, first := q.take()
	if len(batch) != 2 || first != now {
		t.Errorf("took %d changes first at %v, want 2 (one per object) at %v", len(batch), first, now)
	}
	if _, ok := q.due(source.DefaultDebounce); ok {
		t.Error("changes left after take")
	}
	q.add(change{kind: kindService, namespace: "ns", name: "b"}, now.Add(10*time.Millisecond))
	if due, _ := q.due(source.DefaultDebounce); due != now.Add(30*time.Millisecond) {
		t.Errorf("a change 1 ms after the last batch's last is due at %v, want after a holdoff", due)
	}
	q.take()
	q.add(change{kind: kindService, namespace: "ns", name: "c"}, now.Add(time.Second))
	if due, _ := q.due(source.DefaultDebounce); due != now.Add(time.Second) {
		t.Errorf("a change after a quiet second is due at %v, want at once", due)
	}
}

func TestStripKeepsWhatKfgateReads(t *testing.T) {
	when := metav1.NewTime(time.Unix(2000, 0))
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", UID: "u", ResourceVersion: "7",
		Labels:      map[string]string{"app": "a"},
		Annotations: map[string]string{mapping.AnnotationAmbassador: "x", "kfgate.io/config": "y", "kubectl.kubernetes.io/last-applied-configuration": "{...}"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "other", UID: "o1"},
			{APIVersion: "kubeflow.org/v1", Kind: "Notebook", Name: "nb", UID: "o2", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "old", Time: ptr.To(metav1.NewTime(time.Unix(1000, 0))), FieldsV1: metav1.NewFieldsV1("{}")},
			{Manager: "kubectl", Time: &when, FieldsV1: metav1.NewFieldsV1("{}")}}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.0.0.1", Selector: map[string]string{"app": "a"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30000}}},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "1.2.3.4"}}}}}
	out, err := stripService(svc)
	if err != nil {
		t.Fatal(err)
	}
	s := out.(*corev1.Service)
	if len(s.Annotations) != 2 || s.Annotations["kfgate.io/config"] != "y" || s.Spec.ClusterIP != "" || len(s.Status.LoadBalancer.Ingress) != 0 ||
		s.Spec.Ports[0].NodePort != 0 || s.Spec.Ports[0].Port != 80 || s.Labels["app"] != "a" || s.UID != "u" {
		t.Errorf("stripped Service %+v", s)
	}
	if c := s.OwnerReferences; len(c) != 1 || c[0].Kind != "Notebook" || c[0].Name != "nb" || c[0].UID != "o2" || !*c[0].Controller || c[0].BlockOwnerDeletion != nil {
		t.Errorf("owner references %+v, want the controller's alone", c)
	}
	if len(s.ManagedFields) != 1 || s.ManagedFields[0].Manager != "kubectl" || s.ManagedFields[0].FieldsV1 != nil {
		t.Errorf("managedFields %+v, want the newest entry without its fields", s.ManagedFields)
	}
	if !writtenAt(s.ObjectMeta).Equal(when.Time) {
		t.Errorf("written at %v, want the newest managedFields time %v", writtenAt(s.ObjectMeta), when)
	}
	s.Annotations[AnnotationWrittenAt] = "2026-12-01T10:00:00.123456Z"
	if got := writtenAt(s.ObjectMeta); got.Nanosecond() != 123456000 {
		t.Errorf("written at %v, want the annotation's time", got)
	}
	if tomb, _ := stripService(toolscache.DeletedFinalStateUnknown{Key: "ns/a"}); tomb == nil {
		t.Error("a tombstone did not pass")
	}
}

func TestStripMetadataOnly(t *testing.T) {
	in := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "kubeflow.org/v1", Kind: "Notebook"},
		ObjectMeta: metav1.ObjectMeta{Name: "nb", Namespace: "ns", UID: "u", ResourceVersion: "3", Labels: map[string]string{"app": "nb"},
			Annotations:   map[string]string{"notebooks.kubeflow.org/http-rewrite-uri": "/", "kubectl.kubernetes.io/last-applied-configuration": "{...}"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m", FieldsV1: metav1.NewFieldsV1("{}")}}}}
	out, err := stripMetadataOnly(func(k string) bool { return strings.HasPrefix(k, "notebooks.kubeflow.org/") })(in)
	if err != nil {
		t.Fatal(err)
	}
	m := out.(*metav1.PartialObjectMetadata)
	if m.Kind != "Notebook" || m.Name != "nb" || m.UID != "u" || m.ResourceVersion != "3" || len(m.Labels) != 0 || len(m.ManagedFields) != 0 ||
		len(m.Annotations) != 1 || m.Annotations["notebooks.kubeflow.org/http-rewrite-uri"] != "/" {
		t.Errorf("stripped %+v", m)
	}
	if p := (&corev1.Pod{}); func() any { o, _ := stripMetadataOnly(nil)(p); return o }() != p {
		t.Error("a typed object did not pass unchanged")
	}
}

func TestUnchangedUpdatesAreDropped(t *testing.T) {
	base := func() *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", ResourceVersion: "1",
			Annotations: map[string]string{mapping.AnnotationAmbassador: "x"}}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	}
	bumped := base()
	bumped.ResourceVersion, bumped.ManagedFields = "2", []metav1.ManagedFieldsEntry{{Manager: "m"}}
	bumped.Annotations[AnnotationWrittenAt] = "2026-12-01T10:00:00Z"
	if _, ok := changeOf(kindService, base(), bumped); ok {
		t.Error("an update of resourceVersion, field ownership and write time only was queued")
	}
	edited := base()
	edited.Annotations[mapping.AnnotationAmbassador] = "y"
	if c, ok := changeOf(kindService, base(), edited); !ok || c.service != edited {
		t.Error("an annotation edit was dropped")
	}
	if c, ok := changeOf(kindService, toolscache.DeletedFinalStateUnknown{Obj: base()}, nil); !ok || !c.deleted() || c.name != "a" {
		t.Errorf("a deletion seen through a tombstone: %+v %v", c, ok)
	}
	sl := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns", ResourceVersion: "1"},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}}}
	notReady := sl.DeepCopy()
	notReady.ResourceVersion = "2"
	notReady.Endpoints[0].Conditions.Ready = ptr.To(false)
	if _, ok := changeOf(kindSlice, sl, notReady); !ok {
		t.Error("an endpoint turning not ready was dropped")
	}
}

func TestStripSecretKeepsOnlyCertificates(t *testing.T) {
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cert", Namespace: "ns", UID: "u", ResourceVersion: "7",
		Labels:        map[string]string{"app": "a"},
		Annotations:   map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"tls.key":"..."}}`},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", FieldsV1: metav1.NewFieldsV1("{}")}}},
		Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("C"), "tls.key": []byte("K"), "ca.crt": []byte("A"),
			"password": []byte("P")}, StringData: map[string]string{"token": "T"}}
	out, err := stripSecret(sec)
	if err != nil {
		t.Fatal(err)
	}
	want := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cert", Namespace: "ns", UID: "u", ResourceVersion: "7"},
		Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("C"), "tls.key": []byte("K"), "ca.crt": []byte("A")}}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("stripped Secret %+v\nwant %+v", out, want)
	}
	bare, _ := stripSecret(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "empty"}, Type: corev1.SecretTypeTLS})
	if d := bare.(*corev1.Secret).Data; d != nil {
		t.Errorf("a Secret without data stripped to data %v", d)
	}
	if tomb, _ := stripSecret(toolscache.DeletedFinalStateUnknown{Key: "ns/cert"}); tomb == nil {
		t.Error("a tombstone did not pass")
	}
}

func TestSecretChanges(t *testing.T) {
	base := func() *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cert", Namespace: "ns", UID: "u", ResourceVersion: "1"},
			Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("C"), "tls.key": []byte("K")}}
	}
	c, ok := changeOf(kindSecret, nil, base())
	if !ok || c.secret == nil || c.kind != kindSecret || c.namespace != "ns" || c.name != "cert" || c.deleted() {
		t.Errorf("an added Secret: %+v %v", c, ok)
	}
	bumped := base()
	bumped.ResourceVersion = "2"
	if _, ok := changeOf(kindSecret, base(), bumped); ok {
		t.Error("an update of the resourceVersion only was queued")
	}
	renewed := base()
	renewed.ResourceVersion, renewed.Data["tls.key"] = "3", []byte("K2")
	if c, ok := changeOf(kindSecret, base(), renewed); !ok || c.secret != renewed {
		t.Error("a renewed key was dropped")
	}
	if c, ok := changeOf(kindSecret, toolscache.DeletedFinalStateUnknown{Obj: base()}, nil); !ok || !c.deleted() || c.kind != kindSecret || c.name != "cert" {
		t.Errorf("a deletion seen through a tombstone: %+v %v", c, ok)
	}
	if _, ok := changeOf(kindSecret, nil, &corev1.Service{}); ok {
		t.Error("a Service on the Secret informer was queued")
	}
	if kindSecret.String() != "secret" || kindSlice.String() != "endpointslice" || kindService.String() != "service" {
		t.Errorf("kind names %v %v %v", kindService, kindSlice, kindSecret)
	}
	for _, k := range kinds {
		if _, ok := changeOf(k, nil, k.object()); !ok {
			t.Errorf("kind %s: its informer's object %T is not its change", k, k.object())
		}
	}
}
