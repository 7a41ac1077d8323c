// Package build runs the pure pipeline: source objects → decoded documents → resolved IR → Envoy
// resources, with a report of what every source object became. A Builder caches decoded annotations
// by content so that a rebuild decodes only what changed.
package build

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/kfgate/kfgate/gateway/ir"
	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/gateway/xds"
)

// Options are installation settings.
type Options struct {
	ID            string // ambassador_id of this installation
	ListenerPort  uint32
	ClusterDomain string
}

// Result is one build: what to serve and what to tell users.
type Result struct {
	Documents   []mapping.Document
	Config      *ir.Config
	Resources   *xds.Resources
	Diagnostics []mapping.Diagnostic
	Summary     Summary

	objs   source.Objects
	report func() *Report
}

// Report says what every source object became; computed on first use (only the diagnostics page
// and config.json need it) and then kept.
func (r *Result) Report() *Report { return r.report() }

type decoded struct {
	docs  []mapping.Document
	diags []mapping.Diagnostic
}

// Builder is not safe for concurrent use; one reconcile loop owns it.
type Builder struct {
	opts  Options
	cache map[[32]byte]decoded
	// lastGood holds, per source text (Service annotation or file document), its last version that
	// decoded without errors: a broken edit keeps serving the previous version instead of dropping
	// the routes, and says so.
	lastGood map[string]goodText
}

type goodText struct {
	key  [32]byte
	docs []mapping.Document
}

// NewBuilder returns a Builder with an empty decode cache.
func NewBuilder(opts Options) *Builder {
	return &Builder{opts: opts, cache: map[[32]byte]decoded{}, lastGood: map[string]goodText{}}
}

// Build runs the whole pipeline. An error means translation produced something invalid, a bug: the
// caller keeps serving its last good resources.
func (b *Builder) Build(objs source.Objects) (*Result, error) {
	res := &Result{Diagnostics: append([]mapping.Diagnostic(nil), objs.Diagnostics...)}
	keys, next := b.decodeAll(objs.Texts)
	good := make(map[string]goodText, len(objs.Texts))
	for i, t := range objs.Texts {
		key := keys[i]
		d := next[key]
		docs, id := d.docs, identity(t.Source)
		if !mapping.HasErrors(d.diags) {
			good[id] = goodText{key: key, docs: d.docs}
		} else if lg, ok := b.lastGood[id]; ok {
			good[id], docs = lg, lg.docs
			res.Diagnostics = append(res.Diagnostics, mapping.Diagnostic{Source: t.Source, Line: t.Source.Line,
				Severity: mapping.SeverityWarning, Reason: mapping.ReasonStale,
				Message: "this text has errors: its last valid version keeps serving until they are fixed"})
		}
		res.Documents = append(res.Documents, docs...)
		res.Diagnostics = append(res.Diagnostics, d.diags...)
	}
	b.cache, b.lastGood = next, good
	authDeclared, authDiags := authDeclared(res.Documents, res.Diagnostics)
	res.Diagnostics = append(res.Diagnostics, authDiags...)
	cfg, diags := ir.Resolve(ir.Input{
		AuthDeclared: authDeclared,
		Documents:    res.Documents,
		Services:     source.Services(objs.Services, objs.EndpointSlices),
		Options:      ir.Options{ListenerPort: b.opts.ListenerPort, ClusterDomain: b.opts.ClusterDomain},
	})
	res.Config = cfg
	res.Diagnostics = append(res.Diagnostics, diags...)
	resources, err := xds.Translate(cfg)
	if err != nil {
		return nil, fmt.Errorf("translating to Envoy resources: %w", err)
	}
	if err := resources.Validate(); err != nil {
		return nil, err
	}
	res.Resources = resources
	sortDiagnostics(res.Diagnostics)
	res.objs = objs
	res.report = sync.OnceValue(func() *Report { return newReport(res.objs, res) })
	res.Summary = summarize(objs, res)
	return res, nil
}

// authDeclared reports whether an AuthService was written, valid or not. When none is valid the
// resolver fails closed, and each rejected AuthService is told what that means.
func authDeclared(docs []mapping.Document, diags []mapping.Diagnostic) (bool, []mapping.Diagnostic) {
	valid := false
	for _, d := range docs {
		valid = valid || d.Kind == mapping.KindAuthService
	}
	var out []mapping.Diagnostic
	seen := map[string]bool{}
	for _, d := range diags {
		if d.DocKind != mapping.KindAuthService || d.Severity != mapping.SeverityError || seen[d.Location()+d.DocName] {
			continue
		}
		seen[d.Location()+d.DocName] = true
		if !valid {
			out = append(out, mapping.Diagnostic{Source: d.Source, Line: d.Line, DocKind: d.DocKind, DocName: d.DocName,
				Severity: mapping.SeverityError, Reason: mapping.ReasonAuthUnavailable,
				Message: "no valid AuthService: kfgate fails closed, every route without bypass_auth answers 403 until this is fixed"})
		}
	}
	return valid || len(out) > 0, out
}

// decodeAll decodes the texts not in the cache, in parallel (decoding is pure and the bulk of a cold
// build), and returns every text's cache key and the next cache.
func (b *Builder) decodeAll(texts []source.Text) ([][32]byte, map[[32]byte]decoded) {
	keys := make([][32]byte, len(texts))
	next := make(map[[32]byte]decoded, len(texts))
	var todo []int
	for i, t := range texts {
		keys[i] = cacheKey(t)
		if d, ok := b.cache[keys[i]]; ok {
			next[keys[i]] = d
		} else if _, queued := next[keys[i]]; !queued {
			next[keys[i]] = decoded{}
			todo = append(todo, i)
		}
	}
	results := make([]decoded, len(todo))
	workers := min(runtime.GOMAXPROCS(0), len(todo))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for j := w; j < len(todo); j += workers {
				t := texts[todo[j]]
				results[j].docs, results[j].diags = mapping.Decode(t.Source, t.Body, mapping.Options{ID: b.opts.ID})
			}
		})
	}
	wg.Wait()
	for j, i := range todo {
		next[keys[i]] = results[j]
	}
	return keys, next
}

// cacheKey covers everything decoding depends on: the source (its identity and position feed the
// diagnostics) and the text.
func cacheKey(t source.Text) [32]byte {
	s := t.Source
	return sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00%d\x00%d\x00%s",
		s.Kind, s.Namespace, s.Name, s.UID, s.Key, s.File, s.Line, s.Created.UnixNano(), t.Body))
}

// sortDiagnostics orders diagnostics by where they are, so that output is stable and reads top-down;
// the order is total, so it does not depend on the order in which the pipeline found them.
func sortDiagnostics(ds []mapping.Diagnostic) {
	slices.SortStableFunc(ds, func(a, b mapping.Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.Source.File, b.Source.File),
			cmp.Compare(a.Source.Namespace, b.Source.Namespace),
			cmp.Compare(a.Source.Name, b.Source.Name),
			cmp.Compare(a.Source.Key, b.Source.Key),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.DocName, b.DocName),
			cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Message, b.Message),
		)
	})
}

// identity names a source text independently of its content: a Service annotation by the Service and
// key (wherever its file puts it), a bare document by its file and line.
func identity(s mapping.Source) string {
	if s.Kind != "" {
		return fmt.Sprintf("%s\x00%s\x00%s\x00%s", s.Kind, s.Namespace, s.Name, s.Key)
	}
	return fmt.Sprintf("%s\x00%d", s.File, s.Line)
}
