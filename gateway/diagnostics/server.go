// Package diagnostics serves what kfgate made of its input, for people and for probes: an HTML page
// (every source object, its documents, their routes, every diagnostic), the same as JSON, Prometheus
// metrics, and health and readiness.
package diagnostics

import (
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kfgate/kfgate/gateway/build"
)

// State is what the page shows: the report of the last build and the version being served.
type State struct {
	Version   string        `json:"version"`   // xDS snapshot version being served
	Updated   time.Time     `json:"updated"`   // when the last build ran
	LastError string        `json:"lastError"` // why the last build was not published, if it was not
	Report    *build.Report `json:"report"`

	// lazy computes Report on first use: building it is O(objects) and only people look at it.
	lazy func() *build.Report
}

// NewState returns a state whose report is computed on first use.
func NewState(version string, updated time.Time, lastError string, report func() *build.Report) *State {
	return &State{Version: version, Updated: updated, LastError: lastError, lazy: sync.OnceValue(report)}
}

// resolved returns a copy with the report computed.
func (st *State) resolved() *State {
	if st.Report != nil || st.lazy == nil {
		return st
	}
	cp := *st
	cp.Report = st.lazy()
	return &cp
}

// Server is the diagnostics HTTP handler; Update swaps its state atomically.
type Server struct {
	state    atomic.Pointer[State]
	ready    func() bool
	gatherer prometheus.Gatherer
}

// New returns a diagnostics server. ready reports whether a snapshot is being served.
func New(gatherer prometheus.Gatherer, ready func() bool) *Server {
	s := &Server{ready: ready, gatherer: gatherer}
	s.state.Store(&State{Report: &build.Report{}})
	return s
}

// Update replaces the state shown.
func (s *Server) Update(st *State) { s.state.Store(st) }

// Handler routes the diagnostics endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /config.json", s.configJSON)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusOK, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if s.ready() {
			writeText(w, http.StatusOK, "ok")
			return
		}
		writeText(w, http.StatusServiceUnavailable, "no snapshot yet")
	})
	return securityHeaders(mux)
}

func (s *Server) configJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(s.State()) // the client went away: nothing to do
}

func (s *Server) page(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pageTemplate.Execute(w, s.State()) // the client went away: nothing to do
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}

// securityHeaders: the page shows user-controlled strings; html/template escapes them, and the CSP
// forbids scripts and remote assets outright.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// State returns the state shown.
func (s *Server) State() *State { return s.state.Load().resolved() }
