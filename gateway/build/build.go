// Package build runs the pipeline: source objects → decoded documents → resolved IR → Envoy resources,
// with a report of what every source object became. An Engine keeps its state between builds: a
// change decodes, resolves and translates only what it touches.
package build

import (
	"cmp"
	"slices"
	"time"

	"github.com/kfgate/kfgate/gateway/ir"
	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/xds"
)

// Options are installation settings.
type Options struct {
	ID            string // ambassador_id of this installation
	ListenerPort  uint32
	HTTPSPort     uint32 // the TLS listener's port (default 8443)
	ClusterDomain string
	// Now is the clock certificate expiry is judged by (nil: time.Now).
	Now func() time.Time
	// TrustedNamespaces, when not empty, are the only namespaces whose Services' annotations may
	// configure everything; the others' are held to a tenant's routes (mapping/trust.go).
	TrustedNamespaces []string
	// TenantPaths are the path spaces of tenants' Mappings ("{namespace}" for the tenant's own);
	// empty means mapping.DefaultTenantPaths.
	TenantPaths []string
}

// decodeOptions are the decoder's options for this installation.
func (o Options) decodeOptions() mapping.Options {
	mo := mapping.Options{ID: o.ID, TenantPaths: o.TenantPaths}
	if len(o.TrustedNamespaces) > 0 {
		trusted := make(map[string]bool, len(o.TrustedNamespaces))
		for _, ns := range o.TrustedNamespaces {
			trusted[ns] = true
		}
		mo.Trusted = func(ns string) bool { return trusted[ns] }
	}
	return mo
}

// Result is one build: what to serve and what to tell users.
type Result struct {
	Config      *ir.Config
	Resources   *xds.Resources
	Diagnostics []mapping.Diagnostic
	Summary     Summary

	documents func() []mapping.Document
	report    func() *Report
}

// Documents lists every valid document being served, in no particular order.
func (r *Result) Documents() []mapping.Document { return r.documents() }

// Report says what every source object became; computed on first use (only the diagnostics page
// and config.json need it) and then kept.
func (r *Result) Report() *Report { return r.report() }

// Builder is the name the one-shot tools use for an Engine.
type Builder = Engine

// NewBuilder returns an empty Engine.
func NewBuilder(opts Options) *Builder { return NewEngine(opts) }

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
