package build

import (
	"fmt"
	"reflect"
	"runtime"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/kfgate/kfgate/gateway/ir"
	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/gateway/xds"
)

// Engine builds incrementally. Sources report changes (SetText, DeleteText, SetService, ...) or hand
// over a whole view (Sync, which finds the changes itself); Result then does the work those changes
// need and no more. An Engine is not safe for concurrent use: one reconcile loop owns it.
type Engine struct {
	opts       Options
	decode     mapping.Options
	state      *ir.State
	translator xds.Translator
	texts      map[textID]*text

	services  map[string]*corev1.Service                       // "namespace/name"
	slices    map[string]*discoveryv1.EndpointSlice            // "namespace/name" of the slice
	bySvc     map[string]map[string]*discoveryv1.EndpointSlice // service key → its slices
	fileDiags []mapping.Diagnostic

	authDocs   int // valid AuthService documents being served
	authBroken int // texts whose decoding rejected an AuthService
	mappings   int // Mapping documents being served
	objects    map[objectKey]int
	withDiags  map[textID]*text
	changed    bool // a text changed since the last Result (the State tracks the rest)
}

// textID names a source text independently of its content: a Service annotation by the Service and
// key (wherever its file puts it), a bare document by its file and line.
type textID struct {
	kind, namespace, name, key, file string
	line                             int
}

func idOf(s mapping.Source) textID {
	if s.Kind != "" {
		return textID{kind: s.Kind, namespace: s.Namespace, name: s.Name, key: s.Key}
	}
	return textID{file: s.File, line: s.Line}
}

func (id textID) String() string {
	return fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%s\x00%d", id.kind, id.namespace, id.name, id.key, id.file, id.line)
}

// text is one source text and what it became.
type text struct {
	src   mapping.Source
	body  string
	docs  []mapping.Document // served: the decoded documents, or the last good ones
	diags []mapping.Diagnostic
	good  *goodVersion // the last version that decoded without errors
	auth  int          // AuthService documents in docs
	maps  int          // Mapping documents in docs
	// authBroken: decoding rejected an AuthService in this text
	authBroken bool
}

type goodVersion struct {
	src  mapping.Source
	docs []mapping.Document
}

// NewEngine returns an empty Engine.
func NewEngine(opts Options) *Engine {
	return &Engine{opts: opts, decode: opts.decodeOptions(), state: ir.NewState(ir.Options{ListenerPort: opts.ListenerPort, HTTPSPort: opts.HTTPSPort,
		ClusterDomain: opts.ClusterDomain, Now: opts.Now}),
		texts: map[textID]*text{}, services: map[string]*corev1.Service{}, slices: map[string]*discoveryv1.EndpointSlice{},
		bySvc: map[string]map[string]*discoveryv1.EndpointSlice{}, objects: map[objectKey]int{}, withDiags: map[textID]*text{}}
}

// Build makes the Engine's view equal to objs and returns the result.
func (e *Engine) Build(objs source.Objects) (*Result, error) {
	e.Sync(objs)
	return e.Result()
}

// SetText adds or replaces a text (an annotation value or a bare document). A text whose source and
// content are unchanged is not decoded again.
func (e *Engine) SetText(t source.Text) {
	if e.unchanged(t) {
		return
	}
	d := decoded{}
	d.docs, d.diags = mapping.Decode(t.Source, t.Body, e.decode)
	e.apply(t, d)
}

// unchanged reports whether the Engine holds this very text, from the same source: its decoding stands.
func (e *Engine) unchanged(t source.Text) bool {
	old, ok := e.texts[idOf(t.Source)]
	return ok && old.body == t.Body && old.src == t.Source
}

// DeleteText forgets a text.
func (e *Engine) DeleteText(src mapping.Source) {
	id := idOf(src)
	old, ok := e.texts[id]
	if !ok {
		return
	}
	e.count(old, -1)
	e.changed = true
	delete(e.texts, id)
	e.state.Replace(id.String(), nil)
}

type decoded struct {
	docs  []mapping.Document
	diags []mapping.Diagnostic
}

// apply installs a decoded text. A text with errors keeps its last valid version serving, and says so.
func (e *Engine) apply(t source.Text, d decoded) {
	id := idOf(t.Source)
	old := e.texts[id]
	nt := &text{src: t.Source, body: t.Body, docs: d.docs, diags: d.diags}
	if old != nil {
		nt.good = old.good
		e.count(old, -1)
	}
	if !mapping.HasErrors(d.diags) {
		nt.good = &goodVersion{src: t.Source, docs: d.docs}
	} else if nt.good != nil {
		nt.docs = nt.good.docs
		nt.diags = append(nt.diags, mapping.Diagnostic{Source: t.Source, Line: t.Source.Line,
			Severity: mapping.SeverityWarning, Reason: mapping.ReasonStale,
			Message: "this text has errors: its last valid version keeps serving until they are fixed"})
	}
	for _, doc := range nt.docs {
		switch doc.Kind {
		case mapping.KindAuthService:
			nt.auth++
		case mapping.KindMapping:
			nt.maps++
		}
	}
	for _, dg := range d.diags {
		// A tenant's AuthService never counts, broken or not: one tenant must not make kfgate fail closed.
		nt.authBroken = nt.authBroken || (dg.DocKind == mapping.KindAuthService && dg.Severity == mapping.SeverityError && e.decode.IsTrusted(t.Source))
	}
	e.texts[id] = nt
	e.changed = true
	e.count(nt, 1)
	e.state.Replace(id.String(), nt.docs)
}

// count adds (sign 1) or removes (sign -1) a text's share of the running totals.
func (e *Engine) count(t *text, sign int) {
	e.authDocs += sign * t.auth
	e.mappings += sign * t.maps
	if t.authBroken {
		e.authBroken += sign
	}
	ok := objectKey{t.src.Kind, t.src.Namespace, t.src.Name, t.src.File}
	if e.objects[ok] += sign; e.objects[ok] == 0 {
		delete(e.objects, ok)
	}
	id := idOf(t.src)
	switch {
	case sign < 0:
		delete(e.withDiags, id)
	case len(t.diags) > 0:
		e.withDiags[id] = t
	}
}

// SetService adds or replaces a Service.
func (e *Engine) SetService(svc *corev1.Service) {
	key := ir.Key(svc.Namespace, svc.Name)
	e.services[key] = svc
	e.refreshService(key)
}

// DeleteService forgets a Service.
func (e *Engine) DeleteService(namespace, name string) {
	key := ir.Key(namespace, name)
	delete(e.services, key)
	e.refreshService(key)
}

// SetEndpointSlice adds or replaces an EndpointSlice.
func (e *Engine) SetEndpointSlice(sl *discoveryv1.EndpointSlice) {
	e.DeleteEndpointSlice(sl.Namespace, sl.Name)
	key := ir.Key(sl.Namespace, sl.Name)
	svc := ir.Key(sl.Namespace, sl.Labels[discoveryv1.LabelServiceName])
	e.slices[key] = sl
	if e.bySvc[svc] == nil {
		e.bySvc[svc] = map[string]*discoveryv1.EndpointSlice{}
	}
	e.bySvc[svc][key] = sl
	e.refreshService(svc)
}

// DeleteEndpointSlice forgets an EndpointSlice.
func (e *Engine) DeleteEndpointSlice(namespace, name string) {
	key := ir.Key(namespace, name)
	sl, ok := e.slices[key]
	if !ok {
		return
	}
	delete(e.slices, key)
	svc := ir.Key(sl.Namespace, sl.Labels[discoveryv1.LabelServiceName])
	delete(e.bySvc[svc], key)
	if len(e.bySvc[svc]) == 0 {
		delete(e.bySvc, svc)
	}
	e.refreshService(svc)
}

func (e *Engine) refreshService(key string) {
	svc, ok := e.services[key]
	if !ok {
		e.state.DeleteService(key)
		return
	}
	slices := make([]*discoveryv1.EndpointSlice, 0, len(e.bySvc[key]))
	for _, sl := range e.bySvc[key] {
		slices = append(slices, sl)
	}
	e.state.SetService(source.Service(svc, slices))
}

// SetSecret adds or replaces a Secret (only one a TLSContext names makes the Engine dirty).
func (e *Engine) SetSecret(s *corev1.Secret) { e.state.SetSecret(source.Secret(s)) }

// DeleteSecret forgets a Secret.
func (e *Engine) DeleteSecret(namespace, name string) { e.state.DeleteSecret(namespace, name) }

// Sync makes the Engine's view equal to objs, finding what changed: texts by content, Services and
// EndpointSlices by what kfgate reads of them. Changed texts are decoded in parallel.
func (e *Engine) Sync(objs source.Objects) {
	if len(e.fileDiags) > 0 || len(objs.Diagnostics) > 0 {
		e.changed = true
	}
	e.fileDiags = objs.Diagnostics
	e.syncTexts(objs.Texts)
	e.syncServices(objs.Services, objs.EndpointSlices)
	secrets := make(map[string]*ir.Secret, len(objs.Secrets))
	for _, s := range objs.Secrets {
		secrets[ir.Key(s.Namespace, s.Name)] = source.Secret(s)
	}
	e.state.SetSecrets(secrets)
}

func (e *Engine) syncTexts(texts []source.Text) {
	seen := make(map[textID]bool, len(texts))
	for _, t := range texts {
		seen[idOf(t.Source)] = true
	}
	for id, t := range e.texts {
		if !seen[id] {
			e.DeleteText(t.src)
		}
	}
	e.setTexts(texts)
}

// setTexts is SetText for many texts: those that changed are decoded in parallel.
func (e *Engine) setTexts(texts []source.Text) {
	var changed []source.Text
	for _, t := range texts {
		if !e.unchanged(t) {
			changed = append(changed, t)
		}
	}
	for i, d := range decodeAll(changed, e.decode) {
		e.apply(changed[i], d)
	}
}

func (e *Engine) syncServices(svcs []*corev1.Service, sls []*discoveryv1.EndpointSlice) {
	want := make(map[string]*corev1.Service, len(svcs))
	for _, s := range svcs {
		want[ir.Key(s.Namespace, s.Name)] = s
	}
	wantSlices := make(map[string]*discoveryv1.EndpointSlice, len(sls))
	for _, sl := range sls {
		wantSlices[ir.Key(sl.Namespace, sl.Name)] = sl
	}
	for key, sl := range e.slices {
		if _, ok := wantSlices[key]; !ok {
			e.DeleteEndpointSlice(sl.Namespace, sl.Name)
		}
	}
	for key, sl := range wantSlices {
		if old, ok := e.slices[key]; !ok || !reflect.DeepEqual(old, sl) {
			e.SetEndpointSlice(sl)
		}
	}
	for key, s := range e.services {
		if _, ok := want[key]; !ok {
			e.DeleteService(s.Namespace, s.Name)
		}
	}
	for key, s := range want {
		if old, ok := e.services[key]; !ok || !reflect.DeepEqual(old, s) {
			e.SetService(s)
		}
	}
}

// decodeAll decodes texts in parallel: decoding is pure and the bulk of a cold build.
func decodeAll(texts []source.Text, opts mapping.Options) []decoded {
	out := make([]decoded, len(texts))
	workers := min(runtime.GOMAXPROCS(0), len(texts))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for j := w; j < len(texts); j += workers {
				out[j].docs, out[j].diags = mapping.Decode(texts[j].Source, texts[j].Body, opts)
			}
		})
	}
	wg.Wait()
	return out
}

// Result resolves and translates what changed since the last Result. An error means translation
// produced something invalid, a bug: the caller keeps serving its last good resources.
func (e *Engine) Result() (*Result, error) {
	e.changed = false
	diags := append([]mapping.Diagnostic(nil), e.fileDiags...)
	for _, t := range e.withDiags {
		diags = append(diags, t.diags...)
	}
	authDiags := e.authDiagnostics()
	diags = append(diags, authDiags...)
	e.state.SetAuthDeclared(e.authDocs > 0 || e.authBroken > 0)
	cfg, rdiags := e.state.Config()
	diags = append(diags, rdiags...)
	resources, err := e.translator.Translate(cfg)
	if err != nil {
		return nil, fmt.Errorf("translating to Envoy resources: %w", err)
	}
	sortDiagnostics(diags)
	res := &Result{Config: cfg, Resources: resources, Diagnostics: diags}
	texts := e.snapshotTexts()
	res.documents = sync.OnceValue(func() []mapping.Document { return documentsOf(texts) })
	res.report = sync.OnceValue(func() *Report { return newReport(texts, res) })
	res.Summary = e.summarize(res)
	return res, nil
}

// Dirty reports whether anything changed since the last Result that could change it: a text, or a
// Service or EndpointSlice that a Mapping or the AuthService routes to. Changes to other Services and
// slices are kept, and leave the Engine clean.
func (e *Engine) Dirty() bool { return e.changed || e.state.Dirty() }

// authDiagnostics tells each rejected AuthService that, with no valid one, kfgate fails closed.
func (e *Engine) authDiagnostics() []mapping.Diagnostic {
	if e.authDocs > 0 || e.authBroken == 0 {
		return nil
	}
	var out []mapping.Diagnostic
	for _, t := range e.withDiags {
		if !t.authBroken {
			continue
		}
		seen := map[string]bool{}
		for _, d := range t.diags {
			if d.DocKind != mapping.KindAuthService || d.Severity != mapping.SeverityError || seen[d.Location()+d.DocName] {
				continue
			}
			seen[d.Location()+d.DocName] = true
			out = append(out, mapping.Diagnostic{Source: d.Source, Line: d.Line, DocKind: d.DocKind, DocName: d.DocName,
				Severity: mapping.SeverityError, Reason: mapping.ReasonAuthUnavailable,
				Message: "no valid AuthService: kfgate fails closed, every route without bypass_auth answers 403 until this is fixed"})
		}
	}
	return out
}

// snapshotTexts copies the text list for a Result's lazy report (the Engine moves on).
func (e *Engine) snapshotTexts() []*text {
	out := make([]*text, 0, len(e.texts))
	for _, t := range e.texts {
		out = append(out, t)
	}
	return out
}

func documentsOf(texts []*text) []mapping.Document {
	var out []mapping.Document
	for _, t := range texts {
		out = append(out, t.docs...)
	}
	return out
}
