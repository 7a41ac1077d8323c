package kube

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	watch         *prometheus.CounterVec // kind, event, result
	debounce      prometheus.Histogram
	writeToSnap   prometheus.Histogram
	events        *prometheus.CounterVec // type, reason
	eventsDropped prometheus.Counter
	leader        prometheus.Gauge
}

func newMetrics() *metrics {
	return &metrics{
		watch: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kfgate_kube_watch_events_total",
			Help: "Watch events by object kind, event (add, update, delete) and result (queued, or dropped: nothing kfgate reads changed)."},
			[]string{"kind", "event", "result"}),
		debounce: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kfgate_kube_debounce_wait_seconds",
			Help:    "Time from the first change of a batch to its rebuild (the debounce holdoff at work).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 12)}),
		writeToSnap: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kfgate_kube_write_to_snapshot_seconds",
			Help:    "Time from an object's write (kfgate.io/written-at, else its newest managedFields time) to the snapshot that holds it.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kfgate_kube_events_written_total",
			Help: "Kubernetes Events written on Services, by type and reason."}, []string{"type", "reason"}),
		eventsDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "kfgate_kube_events_dropped_total",
			Help: "Events dropped because too many were waiting to be written."}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kfgate_kube_leader",
			Help: "1 while this replica holds the Lease and writes Events."}),
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, k := range kinds {
		for _, ev := range []string{"add", "update", "delete"} {
			m.watch.WithLabelValues(k.String(), ev, "queued")
			m.watch.WithLabelValues(k.String(), ev, "dropped")
		}
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.watch, m.debounce, m.writeToSnap, m.events, m.eventsDropped, m.leader} {
		errs = append(errs, reg.Register(c))
	}
	return errors.Join(errs...)
}
