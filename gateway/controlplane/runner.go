// Package controlplane ties the pure pipeline to the stateful edges: every set of source objects is
// built, published to the xDS server (or refused, keeping the last good snapshot) and shown on the
// diagnostics page.
package controlplane

import (
	"context"
	"sync"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfgate/kfgate/gateway/build"
	"github.com/kfgate/kfgate/gateway/diagnostics"
	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/server"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/gateway/xds"
)

// Runner applies source objects. Apply is serialised; callers may call it from any goroutine.
type Runner struct {
	mu      sync.Mutex
	builder *build.Engine
	xds     *server.Server
	diag    *diagnostics.Server
	log     logr.Logger
	m       *metrics
	last    lastResources
	built   bool // a build was attempted: a clean Engine has nothing new to publish
	hooks   []func(*build.Result)
}

// lastResources remembers the last published lists, so that an unchanged list is handed to the xDS
// server as the very same slice (which it then does not prepare again).
type lastResources struct {
	listeners memo[*listenerv3.Listener]
	clusters  memo[*clusterv3.Cluster]
	endpoints memo[*endpointv3.ClusterLoadAssignment]
	secrets   memo[*tlsv3.Secret]
}

// memo converts a list once and hands out the same converted slice while the list is the same.
type memo[T types.Resource] struct {
	in  []T
	out []types.Resource
}

func (m *memo[T]) of(in []T) []types.Resource {
	if len(in) == 0 || len(in) != len(m.in) || &in[0] != &m.in[0] {
		m.in, m.out = in, resourcesOf(in)
	}
	return m.out
}

// New returns a Runner publishing to srv and reporting to diag.
func New(opts build.Options, srv *server.Server, diag *diagnostics.Server, reg prometheus.Registerer, log logr.Logger) *Runner {
	return &Runner{builder: build.NewEngine(opts), xds: srv, diag: diag, log: log, m: newMetrics(reg, log)}
}

// OnPublish registers f to be called, under the Runner's lock, with every Result that was published.
// f must be quick: it runs on the rebuild path. Register before the first Update.
func (r *Runner) OnPublish(f func(*build.Result)) { r.hooks = append(r.hooks, f) }

// Apply makes the configuration that of objs (a whole view, as the file source has) and publishes it.
func (r *Runner) Apply(ctx context.Context, objs source.Objects) error {
	return r.Update(ctx, func(e *build.Engine) { e.Sync(objs) })
}

// Compact replaces the Engine by a fresh copy of itself (build.Engine.Fresh) and publishes what it
// builds, the same content: the xDS server adopts the new messages without sending any Envoy
// anything, and the old Engine's memory, sized for a peak long gone, is given back.
func (r *Runner) Compact(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	fresh := r.builder.Fresh()
	if err := r.publish(ctx, fresh, start, true); err != nil {
		return err // the previous Engine and snapshot keep serving
	}
	r.builder = fresh
	r.log.Info("Engine compacted", "took", time.Since(start))
	return nil
}

// Update applies changes to the Engine (SetText, SetService, ... for sources that report events),
// builds what they touch and publishes the result. On failure the previous snapshot keeps serving
// and the failure is reported (log, metrics, diagnostics page); the error is returned too.
func (r *Runner) Update(ctx context.Context, change func(*build.Engine)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	change(r.builder)
	if r.built && !r.builder.Dirty() {
		r.m.builds.WithLabelValues("unchanged").Inc()
		return nil
	}
	r.built = true
	return r.publish(ctx, r.builder, start, false)
}

// publish builds e's Result and publishes it (adopt: even if the content is what is served), then
// reports it: metrics, hooks, diagnostics page, log. On failure the previous snapshot keeps serving
// and the failure is reported. r.mu held.
func (r *Runner) publish(ctx context.Context, e *build.Engine, start time.Time, adopt bool) error {
	res, err := e.Result()
	if err == nil {
		rs := r.toServer(res.Resources)
		rs.Adopt = adopt
		_, err = r.xds.Publish(ctx, rs)
	}
	r.m.rebuild.Observe(time.Since(start).Seconds())
	report := func() *build.Report { return &build.Report{} }
	if res != nil {
		report = res.Report
	}
	if err != nil {
		r.m.builds.WithLabelValues("failed").Inc()
		r.log.Error(err, "configuration not published; the previous snapshot keeps serving")
		r.diag.Update(diagnostics.NewState(r.xds.Version(), start, err.Error(), report))
		return err
	}
	result := "published"
	if adopt {
		result = "compacted"
	}
	r.m.builds.WithLabelValues(result).Inc()
	r.m.record(res.Summary)
	for _, f := range r.hooks {
		f(res)
	}
	r.diag.Update(diagnostics.NewState(r.xds.Version(), start, "", report))
	r.log.V(1).Info("configuration built", "version", r.xds.Version(), "objects", res.Summary.Objects,
		"mappings", res.Summary.Mappings, "errors", res.Summary.Errors, "took", time.Since(start))
	return nil
}

func (r *Runner) toServer(x *xds.Resources) server.Resources {
	out := server.Resources{
		Listeners: r.last.listeners.of(x.Listeners),
		Routes:    resourcesOf(x.Routes),
		Clusters:  r.last.clusters.of(x.Clusters),
		Endpoints: r.last.endpoints.of(x.Endpoints),
		Secrets:   r.last.secrets.of(x.Secrets),
		Trusted:   x.Digests, // validated, deterministic and hashed by the translator
	}
	return out
}

func resourcesOf[T types.Resource](in []T) []types.Resource {
	out := make([]types.Resource, len(in))
	for i, m := range in {
		out[i] = m
	}
	return out
}

type metrics struct {
	rebuild     prometheus.Histogram
	builds      *prometheus.CounterVec
	objects     prometheus.Gauge
	mappings    prometheus.Gauge
	diagnostics *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer, log logr.Logger) *metrics {
	m := &metrics{
		rebuild: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kfgate_rebuild_duration_seconds",
			Help: "Time to build and publish a configuration.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		builds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kfgate_builds_total",
			Help: "Rebuilds by result: published, failed, unchanged (nothing routed changed, nothing built), or compacted (the Engine replaced by a fresh copy of itself)."}, []string{"result"}),
		objects:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "kfgate_source_objects", Help: "Source objects (Services and files) with kfgate configuration."}),
		mappings: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kfgate_mappings", Help: "Valid Mappings."}),
		diagnostics: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kfgate_diagnostics", Help: "Diagnostics of the last build by severity."},
			[]string{"severity"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.rebuild, m.builds, m.objects, m.mappings, m.diagnostics} {
			if err := reg.Register(c); err != nil {
				log.Error(err, "registering metrics")
			}
		}
	}
	return m
}

func (m *metrics) record(s build.Summary) {
	m.objects.Set(float64(s.Objects))
	m.mappings.Set(float64(s.Mappings))
	m.diagnostics.WithLabelValues(string(mapping.SeverityError)).Set(float64(s.Errors))
	m.diagnostics.WithLabelValues(string(mapping.SeverityWarning)).Set(float64(s.Warnings))
	m.diagnostics.WithLabelValues(string(mapping.SeverityInfo)).Set(float64(s.Infos))
}
