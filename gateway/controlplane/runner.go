// Package controlplane ties the pure pipeline to the stateful edges: every set of source objects is
// built, published to the xDS server (or refused, keeping the last good snapshot) and shown on the
// diagnostics page.
package controlplane

import (
	"context"
	"sync"
	"time"

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
	builder *build.Builder
	xds     *server.Server
	diag    *diagnostics.Server
	log     logr.Logger
	m       *metrics
}

// New returns a Runner publishing to srv and reporting to diag.
func New(opts build.Options, srv *server.Server, diag *diagnostics.Server, reg prometheus.Registerer, log logr.Logger) *Runner {
	return &Runner{builder: build.NewBuilder(opts), xds: srv, diag: diag, log: log, m: newMetrics(reg, log)}
}

// Apply builds objs and publishes the result. On failure the previous snapshot keeps serving and the
// failure is reported (log, metrics, diagnostics page); the error is returned too.
func (r *Runner) Apply(ctx context.Context, objs source.Objects) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	res, err := r.builder.Build(objs)
	if err == nil {
		_, err = r.xds.Publish(ctx, toServer(res.Resources))
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
	r.m.builds.WithLabelValues("published").Inc()
	r.m.record(res.Summary)
	r.diag.Update(diagnostics.NewState(r.xds.Version(), start, "", report))
	r.log.V(1).Info("configuration built", "version", r.xds.Version(), "objects", res.Summary.Objects,
		"mappings", res.Summary.Mappings, "errors", res.Summary.Errors, "took", time.Since(start))
	return nil
}

func toServer(r *xds.Resources) server.Resources {
	var out server.Resources
	for _, l := range r.Listeners {
		out.Listeners = append(out.Listeners, types.Resource(l))
	}
	for _, rc := range r.Routes {
		out.Routes = append(out.Routes, types.Resource(rc))
	}
	for _, c := range r.Clusters {
		out.Clusters = append(out.Clusters, types.Resource(c))
	}
	for _, e := range r.Endpoints {
		out.Endpoints = append(out.Endpoints, types.Resource(e))
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
		builds:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kfgate_builds_total", Help: "Builds by result."}, []string{"result"}),
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
