package diagnostics

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfgate/kfgate/gateway/build"
	"github.com/kfgate/kfgate/gateway/mapping"
)

func TestEndpoints(t *testing.T) {
	ready := false
	reg := prometheus.NewRegistry()
	up := prometheus.NewGauge(prometheus.GaugeOpts{Name: "kfgate_test_up", Help: "test"})
	reg.MustRegister(up)
	s := New(reg, func() bool { return ready })
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	if code, _ := get(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("readyz before a snapshot: %d, want 503", code)
	}
	ready = true
	if code, _ := get(t, srv.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("readyz with a snapshot: %d, want 200", code)
	}
	if code, _ := get(t, srv.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("healthz: %d", code)
	}
	// A document name is user input: the page must escape it.
	evil := `<script>alert(1)</script>`
	s.Update(&State{Version: "abc123", Report: &build.Report{Objects: []*build.ObjectReport{{
		Object:    "Service ns/app",
		Documents: []build.DocumentReport{{Kind: "Mapping", Name: evil, Namespace: "ns", Routes: []build.RouteReport{{VirtualHost: "*", Match: "prefix /app/", Target: "ns/app/80"}}}},
		Diagnostics: []mapping.Diagnostic{{Source: mapping.Source{Kind: "Service", Namespace: "ns", Name: "app"}, DocName: evil,
			Field: "prefix", Severity: mapping.SeverityError, Message: "must start with /"}},
	}}}})
	code, page := get(t, srv.URL+"/")
	if code != http.StatusOK || strings.Contains(page, evil) || !strings.Contains(page, "&lt;script&gt;") {
		t.Errorf("page must render and escape user input; got %d:\n%s", code, page)
	}
	for _, want := range []string{"abc123", "prefix /app/", "ns/app/80", "must start with /"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	_, js := get(t, srv.URL+"/config.json")
	var st State
	if err := json.Unmarshal([]byte(js), &st); err != nil || st.Version != "abc123" || len(st.Report.Objects) != 1 {
		t.Errorf("config.json: %v %+v", err, st)
	}
	if _, m := get(t, srv.URL+"/metrics"); !strings.Contains(m, "kfgate_test_up") {
		t.Error("metrics lack the registry's metrics")
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Security-Policy"); ct == "" {
		t.Errorf("%s: no Content-Security-Policy", url)
	}
	return resp.StatusCode, string(b)
}
