package server

import (
	"errors"
	"sync/atomic"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors plus plain counters for
// Stats, so Stats works without a registry.
type metrics struct {
	streams         *prometheus.GaugeVec     // mode
	acks            *prometheus.CounterVec   // type
	nacks           *prometheus.CounterVec   // type
	pushes          *prometheus.CounterVec   // type
	ackLatency      *prometheus.HistogramVec // type
	versionInfo     *prometheus.GaugeVec     // version
	resources       *prometheus.GaugeVec     // type
	publishFailures prometheus.Counter
	publishDuration prometheus.Histogram

	publishCount atomic.Uint64
	failureCount atomic.Uint64
}

func newMetrics() *metrics {
	return &metrics{
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kfgate_xds_connected_streams",
			Help: "Open xDS streams, by protocol variant (sotw or delta).",
		}, []string{"mode"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfgate_xds_acks_total",
			Help: "xDS responses acknowledged by clients.",
		}, []string{"type"}),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfgate_xds_nacks_total",
			Help: "xDS responses rejected by clients (requests carrying error_detail).",
		}, []string{"type"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfgate_xds_pushes_total",
			Help: "xDS responses sent to clients.",
		}, []string{"type"}),
		ackLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kfgate_xds_ack_latency_seconds",
			Help:    "Time from sending an xDS response to the client's ACK of it, by type.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"type"}),
		versionInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kfgate_snapshot_version_info",
			Help: "Always 1; the version label is the snapshot being served.",
		}, []string{"version"}),
		resources: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kfgate_snapshot_resources",
			Help: "Resources in the served snapshot, by type.",
		}, []string{"type"}),
		publishFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kfgate_snapshot_publish_failures_total",
			Help: "Publish calls rejected (invalid or inconsistent resources); the previous snapshot kept serving.",
		}),
		publishDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kfgate_snapshot_publish_duration_seconds",
			Help:    "Time to validate, hash and install a snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
	}
}

// register adds the collectors to reg (nil means not exported), with every label value present from
// the start so that dashboards and alerts see zeros rather than missing series.
func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, mode := range []string{"sotw", "delta"} {
		m.streams.WithLabelValues(mode)
	}
	for _, t := range []string{"cds", "eds", "lds", "rds", "sds"} {
		m.acks.WithLabelValues(t)
		m.nacks.WithLabelValues(t)
		m.pushes.WithLabelValues(t)
		m.ackLatency.WithLabelValues(t)
	}
	var errs []error
	for _, c := range []prometheus.Collector{
		m.streams, m.acks, m.nacks, m.pushes, m.ackLatency, m.versionInfo,
		m.resources, m.publishFailures, m.publishDuration,
	} {
		errs = append(errs, reg.Register(c))
	}
	return errors.Join(errs...)
}

func (m *metrics) publishFailed() {
	m.failureCount.Add(1)
	m.publishFailures.Inc()
}

// setVersion moves the info gauge to the new version; the old series is
// deleted so exactly one version is reported.
func (m *metrics) setVersion(prev, next string) {
	m.publishCount.Add(1)
	if prev != "" {
		m.versionInfo.DeleteLabelValues(prev)
	}
	m.versionInfo.WithLabelValues(next).Set(1)
}

// typeLabel maps a type URL to a short, bounded label value. Type URLs come
// from clients, so passing them through would let any client mint series.
func typeLabel(typeURL string) string {
	switch typeURL {
	case resourcev3.ClusterType:
		return "cds"
	case resourcev3.EndpointType:
		return "eds"
	case resourcev3.ListenerType:
		return "lds"
	case resourcev3.RouteType:
		return "rds"
	case resourcev3.SecretType:
		return "sds"
	default:
		return "other"
	}
}
