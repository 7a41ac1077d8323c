package authn

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are kfgate authn's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	checks    *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	logins    *prometheus.CounterVec
	callbacks *prometheus.CounterVec
	refreshes *prometheus.CounterVec
	idpTime   *prometheus.HistogramVec
	reachable prometheus.Gauge
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfgate_authn_checks_total", Help: "Check calls by decision (allow, redirect, deny) and reason.",
		}, []string{"decision", "reason", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kfgate_authn_check_duration_seconds", Help: "Time to answer a Check, by decision.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"decision"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfgate_authn_logins_total", Help: "Logins started, by outcome (redirect, rate_limited, loop, idp_unavailable).",
		}, []string{"outcome"}),
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfgate_authn_callbacks_total", Help: "Login callbacks, by outcome.",
		}, []string{"outcome"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfgate_authn_refreshes_total", Help: "Session token refreshes, by outcome.",
		}, []string{"outcome"}),
		idpTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kfgate_authn_idp_request_duration_seconds", Help: "Requests to the identity provider, by endpoint and result.",
			Buckets: prometheus.ExponentialBuckets(.001, 2.5, 10),
		}, []string{"endpoint", "result"}),
	}
	var errs []error
	m.reachable = prometheus.NewGauge(prometheus.GaugeOpts{Name: "kfgate_authn_idp_reachable",
		Help: "1 while the identity provider is discovered and answers its probes (new logins are sent to it), else 0."})
	for _, c := range []prometheus.Collector{m.checks, m.latency, m.logins, m.callbacks, m.refreshes, m.idpTime, m.reachable} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}

func (m *Metrics) check(o Outcome, d time.Duration) {
	if m == nil {
		return
	}
	decision := "deny"
	switch o.Kind {
	case Allow:
		decision = "allow"
	case Redirect:
		decision = "redirect"
	}
	status := "200"
	if o.Kind != Allow {
		status = strconv.Itoa(o.Status)
	}
	m.checks.WithLabelValues(decision, o.Reason, status).Inc()
	m.latency.WithLabelValues(decision).Observe(d.Seconds())
}

func (m *Metrics) idpReachable(ok bool) {
	if m != nil {
		v := 0.0
		if ok {
			v = 1
		}
		m.reachable.Set(v)
	}
}

func (m *Metrics) login(outcome string) {
	if m != nil {
		m.logins.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) callback(outcome string) {
	if m != nil {
		m.callbacks.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) refresh(outcome string) {
	if m != nil {
		m.refreshes.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) idp(endpoint string, err error, d time.Duration) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.idpTime.WithLabelValues(endpoint, result).Observe(d.Seconds())
}
