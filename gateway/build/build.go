// Package build runs the pure pipeline: source objects → decoded documents → resolved IR → Envoy
// resources, with a report of what every source object became. A Builder caches decoded annotations
// by content so that a rebuild decodes only what changed.
package build

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"slices"

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
	Report      *Report
}

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
	next := make(map[[32]byte]decoded, len(objs.Texts))
	good := make(map[string]goodText, len(objs.Texts))
	for _, t := range objs.Texts {
		key := cacheKey(t)
		d, ok := b.cache[key]
		if !ok {
			d.docs, d.diags = mapping.Decode(t.Source, t.Body, mapping.Options{ID: b.opts.ID})
		}
		next[key] = d
		docs, id := d.docs, identity(t.Source)
		if !mapping.HasErrors(d.diags) {
			good[id] = goodText{key: key, docs: d.docs}
		} else if lg, ok := b.lastGood[id]; ok {
			good[id], docs = lg, lg.docs
			res.Diagnostics = append(res.Diagnostics, mapping.Diagnostic{Source: t.Source, Line: t.Source.Line,
				Severity: mapping.SeverityWarning, Reason: "StaleConfig",
				Message: "this text has errors: its last valid version keeps serving until they are fixed"})
		}
		res.Documents = append(res.Documents, docs...)
		res.Diagnostics = append(res.Diagnostics, d.diags...)
	}
	b.cache, b.lastGood = next, good
	cfg, diags := ir.Resolve(ir.Input{
		Documents: res.Documents,
		Services:  source.Services(objs.Services, objs.EndpointSlices),
		Options:   ir.Options{ListenerPort: b.opts.ListenerPort, ClusterDomain: b.opts.ClusterDomain},
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
	res.Report = newReport(objs, res)
	return res, nil
}

// cacheKey covers everything decoding depends on: the source (its identity and position feed the
// diagnostics) and the text.
func cacheKey(t source.Text) [32]byte {
	s := t.Source
	return sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00%d\x00%d\x00%s",
		s.Kind, s.Namespace, s.Name, s.UID, s.Key, s.File, s.Line, s.Created.UnixNano(), t.Body))
}

// sortDiagnostics orders diagnostics by where they are, so that output is stable and reads top-down.
func sortDiagnostics(ds []mapping.Diagnostic) {
	slices.SortStableFunc(ds, func(a, b mapping.Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.Source.File, b.Source.File),
			cmp.Compare(a.Source.Namespace, b.Source.Namespace),
			cmp.Compare(a.Source.Name, b.Source.Name),
			cmp.Compare(a.Source.Key, b.Source.Key),
			cmp.Compare(a.Line, b.Line),
		)
	})
}

// identity names a source text independently of its content.
func identity(s mapping.Source) string {
	return fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%s\x00%d", s.Kind, s.Namespace, s.Name, s.Key, s.File, s.Line)
}
