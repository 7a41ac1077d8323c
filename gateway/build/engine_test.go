package build

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/test/golden"
)

// TestEngineIncrementalEqualsFresh edits a world at random (annotations, Services, EndpointSlices)
// and checks that a long-lived Engine, which re-decodes, re-resolves and re-translates only what
// changed, renders exactly what a fresh Engine renders from the same world.
func TestEngineIncrementalEqualsFresh(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			w := map[string]*worldObject{}
			live := NewEngine(Options{})
			for step := range 120 {
				desc := mutate(rng, w)
				objs := objectsOf(w)
				got, err := live.Build(objs)
				if err != nil {
					t.Fatal(err)
				}
				want, err := NewEngine(Options{}).Build(objs)
				if err != nil {
					t.Fatal(err)
				}
				g, e := render(t, got), render(t, want)
				if g != e {
					t.Fatalf("step %d (%s): the live engine differs from a fresh one\n%s", step, desc, golden.FirstDiff(e, g))
				}
				if !slices.Equal(diagLines(got.Diagnostics), diagLines(want.Diagnostics)) {
					t.Fatalf("step %d (%s): diagnostics differ\n got  %q\n want %q", step, desc, diagLines(got.Diagnostics), diagLines(want.Diagnostics))
				}
				if step%10 == 9 { // now and then the live Engine is replaced by a fresh copy of itself
					live = live.Fresh()
				}
			}
		})
	}
}

type worldObject struct {
	svc   *corev1.Service
	slice *discoveryv1.EndpointSlice
}

func mutate(rng *rand.Rand, w map[string]*worldObject) string {
	name := fmt.Sprintf("svc-%d", rng.IntN(8))
	ns := []string{"kubeflow", "team-a"}[rng.IntN(2)]
	key := ns + "/" + name
	switch op := rng.IntN(10); {
	case op < 5:
		w[key] = &worldObject{svc: annotated(rng, ns, name), slice: w[key].sliceOrNil()}
		return "annotate " + key
	case op < 7:
		if o := w[key]; o != nil {
			o.slice = endpointSlice(rng, ns, name)
			return "endpoints of " + key
		}
		return "nothing"
	case op < 8:
		if o := w[key]; o != nil {
			o.slice = nil
			return "endpoints of " + key + " gone"
		}
		return "nothing"
	default:
		delete(w, key)
		return "delete " + key
	}
}

func (o *worldObject) sliceOrNil() *discoveryv1.EndpointSlice {
	if o == nil {
		return nil
	}
	return o.slice
}

func annotated(rng *rand.Rand, ns, name string) *corev1.Service {
	var text string
	for i := range rng.IntN(3) + 1 {
		text += fmt.Sprintf("---\napiVersion: ambassador/v1\nkind: Mapping\nname: %s-%d\nprefix: /%s/p%d/\nservice: svc-%d.%s\n",
			name, i, ns, rng.IntN(4), rng.IntN(8), []string{"kubeflow", "team-a"}[rng.IntN(2)])
		if rng.IntN(3) == 0 {
			text += fmt.Sprintf("weight: %d\n", 10+rng.IntN(40))
		}
		if rng.IntN(4) == 0 {
			text += "timeout_ms: 9000\n"
		}
	}
	if rng.IntN(15) == 0 {
		text += "---\napiVersion: ambassador/v1\nkind: AuthService\nname: auth\nauth_service: svc-1.kubeflow:8080\nproto: grpc\n"
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: map[string]string{mapping.AnnotationAmbassador: text}},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}
}

func endpointSlice(rng *rand.Rand, ns, name string) *discoveryv1.EndpointSlice {
	port, portName, ready := int32(8080), "http", rng.IntN(4) != 0
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name + "-abc", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{fmt.Sprintf("10.1.0.%d", rng.IntN(20))},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
	}
}

func objectsOf(w map[string]*worldObject) source.Objects {
	var objs source.Objects
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		o := w[k]
		objs.Services = append(objs.Services, o.svc)
		objs.Texts = append(objs.Texts, source.ServiceTexts(o.svc, "", nil)...)
		if o.slice != nil {
			objs.EndpointSlices = append(objs.EndpointSlices, o.slice)
		}
	}
	return objs
}

func render(t *testing.T, res *Result) string {
	t.Helper()
	out, err := res.Resources.Render("json")
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Resources.Validate(); err != nil {
		t.Fatalf("resources do not validate: %v", err)
	}
	return string(out)
}

func diagLines(ds []mapping.Diagnostic) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

// TestEngineEvents: an Engine fed event by event (SetText, SetService, SetEndpointSlice, Delete*),
// as a Kubernetes watch would feed it, says what a fresh Engine says of the same world.
func TestEngineEvents(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	w := map[string]*worldObject{}
	for range 20 {
		mutate(rng, w)
	}
	objs := objectsOf(w)
	e := NewEngine(Options{})
	for _, s := range objs.Services {
		e.SetService(s)
	}
	for _, sl := range objs.EndpointSlices {
		e.SetEndpointSlice(sl)
	}
	for _, tx := range objs.Texts {
		e.SetText(tx)
	}
	check := func(step string, objs source.Objects) {
		t.Helper()
		got, err := e.Result()
		if err != nil {
			t.Fatal(err)
		}
		want, err := NewEngine(Options{}).Build(objs)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := render(t, got), render(t, want); g != w {
			t.Fatalf("%s: the event-fed engine differs from a fresh one\n%s", step, golden.FirstDiff(w, g))
		}
	}
	check("initial events", objs)

	changed := objs.Texts[0]
	changed.Body += "---\napiVersion: ambassador/v1\nkind: Mapping\nname: added\nprefix: /added/\nservice: added\n"
	e.SetText(changed)
	objs.Texts[0] = changed
	check("one annotation changed", objs)

	gone := objs.Services[len(objs.Services)-1]
	e.DeleteService(gone.Namespace, gone.Name)
	for _, tx := range source.ServiceTexts(gone, "", nil) {
		e.DeleteText(tx.Source)
	}
	objs.Services = objs.Services[:len(objs.Services)-1]
	objs.Texts = slices.DeleteFunc(objs.Texts, func(tx source.Text) bool {
		return tx.Source.Namespace == gone.Namespace && tx.Source.Name == gone.Name
	})
	objs.EndpointSlices = slices.DeleteFunc(objs.EndpointSlices, func(sl *discoveryv1.EndpointSlice) bool {
		if sl.Namespace == gone.Namespace && sl.Labels[discoveryv1.LabelServiceName] == gone.Name {
			e.DeleteEndpointSlice(sl.Namespace, sl.Name)
			return true
		}
		return false
	})
	check("one Service deleted", objs)
}

// TestEngineDirty: an unchanged annotation is not decoded again and a Service or slice that nothing
// routes to leaves the Engine clean; a Service's annotations come and go with ApplyService.
func TestEngineDirty(t *testing.T) {
	e := NewEngine(Options{})
	svc := func(name, config string) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
		if config != "" {
			s.Annotations = map[string]string{mapping.AnnotationAmbassador: config}
		}
		return s
	}
	routed := "apiVersion: ambassador/v0\nkind: Mapping\nname: a\nprefix: /a/\nservice: a\n"
	e.SetService(svc("bystander", ""))
	e.ApplyService(svc("a", routed))
	mustResult(t, e)
	if e.Dirty() {
		t.Fatal("dirty right after a Result")
	}
	e.ApplyService(svc("a", routed))
	e.SetService(svc("bystander", ""))
	e.SetEndpointSlice(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "bystander-1", Namespace: "ns",
		Labels: map[string]string{discoveryv1.LabelServiceName: "bystander"}}, AddressType: discoveryv1.AddressTypeIPv4})
	if e.Dirty() {
		t.Error("an unchanged annotation, or a Service no Mapping routes to, made the Engine dirty")
	}
	e.SetEndpointSlice(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "a-1", Namespace: "ns",
		Labels: map[string]string{discoveryv1.LabelServiceName: "a"}}, AddressType: discoveryv1.AddressTypeIPv4})
	if !e.Dirty() {
		t.Error("a slice of a routed Service left the Engine clean")
	}
	mustResult(t, e)
	e.ApplyService(svc("a", "")) // annotation removed
	if !e.Dirty() {
		t.Fatal("removing the annotation left the Engine clean")
	}
	if res := mustResult(t, e); res.Summary.Mappings != 0 {
		t.Errorf("%d Mappings after the annotation was removed", res.Summary.Mappings)
	}
	e.ApplyService(svc("a", routed))
	e.RemoveService("ns", "a")
	if res := mustResult(t, e); res.Summary.Mappings != 0 || res.Summary.Objects != 0 {
		t.Errorf("a removed Service leaves %+v", res.Summary)
	}
}

func mustResult(t *testing.T, e *Engine) *Result {
	t.Helper()
	res, err := e.Result()
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestEngineFresh: a fresh copy of an Engine says exactly what the Engine says, including what only a
// long-lived Engine knows: the last good version of a text that is broken now.
func TestEngineFresh(t *testing.T) {
	e := NewEngine(Options{})
	svc := func(prefix string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", Annotations: map[string]string{
			mapping.AnnotationAmbassador: "apiVersion: ambassador/v0\nkind: Mapping\nname: a\nprefix: " + prefix + "\nservice: a\n"}},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	}
	e.ApplyService(svc("/a/"))
	e.SetEndpointSlice(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "a-1", Namespace: "ns",
		Labels: map[string]string{discoveryv1.LabelServiceName: "a"}}, AddressType: discoveryv1.AddressTypeIPv4})
	mustResult(t, e)
	e.ApplyService(svc("not-a-prefix")) // broken: /a/ keeps serving
	want := mustResult(t, e)
	if !slices.ContainsFunc(want.Diagnostics, func(d mapping.Diagnostic) bool { return d.Reason == mapping.ReasonStale }) {
		t.Fatalf("the broken edit is not stale: %q", diagLines(want.Diagnostics))
	}
	got := mustResult(t, e.Fresh())
	if g, w := render(t, got), render(t, want); g != w {
		t.Errorf("the fresh copy differs\n%s", golden.FirstDiff(w, g))
	}
	if !slices.Equal(diagLines(got.Diagnostics), diagLines(want.Diagnostics)) {
		t.Errorf("diagnostics differ\n got  %q\n want %q", diagLines(got.Diagnostics), diagLines(want.Diagnostics))
	}
}

// A fresh copy keeps serving the last valid certificate of a Secret whose renewal is broken.
func TestEngineFreshKeepsLastGoodCertificate(t *testing.T) {
	e := NewEngine(Options{})
	if _, err := e.Build(tlsWorld(10)); err != nil {
		t.Fatal(err)
	}
	broken := siteSecret("example")
	broken.Data["tls.crt"] = []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	e.SetSecret(broken)
	want := mustResult(t, e)
	if want.Config.HTTPS == nil || !slices.ContainsFunc(want.Diagnostics, func(d mapping.Diagnostic) bool { return d.Reason == mapping.ReasonStale }) {
		t.Fatalf("the broken renewal does not keep the last certificate: %q", diagLines(want.Diagnostics))
	}
	got := mustResult(t, e.Fresh())
	if g, w := render(t, got), render(t, want); g != w {
		t.Errorf("the fresh copy differs\n%s", golden.FirstDiff(w, g))
	}
	if !slices.Equal(diagLines(got.Diagnostics), diagLines(want.Diagnostics)) {
		t.Errorf("diagnostics differ\n got  %q\n want %q", diagLines(got.Diagnostics), diagLines(want.Diagnostics))
	}
}

// A Service change reuses the listeners and SDS secrets as they were built (the xDS server then
// does not prepare them again); a change to what they are made of builds them anew.
func TestEngineReusesListenersAndSecrets(t *testing.T) {
	objs := tlsWorld(10)
	e := NewEngine(Options{})
	first, err := e.Build(objs)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Resources.Listeners) != 2 || len(first.Resources.Secrets) != 1 {
		t.Fatalf("%d listeners, %d secrets", len(first.Resources.Listeners), len(first.Resources.Secrets))
	}
	txt := objs.Texts[5]
	txt.Body = annotation(5, "timeout_ms: 1234\n")
	e.SetText(txt)
	second := mustResult(t, e)
	if &second.Resources.Listeners[0] != &first.Resources.Listeners[0] || &second.Resources.Secrets[0] != &first.Resources.Secrets[0] {
		t.Error("a Service change built the listeners or secrets again")
	}
	e.SetSecret(siteSecret("example-renewed"))
	third := mustResult(t, e)
	if &third.Resources.Secrets[0] == &second.Resources.Secrets[0] {
		t.Error("a renewed Secret did not build the SDS secret again")
	}
	module := objs.Texts[len(objs.Texts)-1]
	module.Body += "  envoy_log_type: text\n"
	e.SetText(module)
	fourth := mustResult(t, e)
	if &fourth.Resources.Listeners[0] == &third.Resources.Listeners[0] {
		t.Errorf("an access log change did not build the listeners again: %q", diagLines(fourth.Diagnostics))
	}
}
