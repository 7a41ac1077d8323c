package e2e

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// hostIP is the address the upstreams listen on, and the EndpointSlices hold: the API server refuses
// loopback endpoint addresses (127.0.0.0/8), so it is this machine's first non-loopback IPv4
// address. The upstreams bind to it alone.
func hostIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	need(t, false, "a non-loopback IPv4 address (EndpointSlices may not hold 127.0.0.1)")
	return ""
}

// upstream is an HTTP server on hostIP that remembers what it received.
type upstream struct {
	name string
	port int32
	mu   sync.Mutex
	seen []echoed
}

// echoed is one request an upstream received, as the echo server reports it.
type echoed struct {
	Server  string            `json:"server"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
}

func (u *upstream) record(r *http.Request) echoed {
	e := echoed{Server: u.name, Method: r.Method, Path: r.URL.RequestURI(), Headers: map[string]string{}}
	for k, v := range r.Header {
		e.Headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	u.mu.Lock()
	u.seen = append(u.seen, e)
	u.mu.Unlock()
	return e
}

// requests returns what the upstream received so far.
func (u *upstream) requests() []echoed {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]echoed(nil), u.seen...)
}

func serveUpstream(t *testing.T, name string, h func(u *upstream) http.Handler) *upstream {
	t.Helper()
	lis, err := net.Listen("tcp", net.JoinHostPort(hostIP(t), "0"))
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{name: name, port: int32(lis.Addr().(*net.TCPAddr).Port)} //nolint:gosec // a TCP port fits
	srv := &http.Server{Handler: h(u), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	return u
}

// startEcho answers every request with what it received, as JSON.
func startEcho(t *testing.T) *upstream {
	return serveUpstream(t, "echo", func(u *upstream) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e := u.record(r)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(e)
		})
	})
}

// prediction is the TF Serving REST predict response, plus the server that answered.
type prediction struct {
	Predictions []float64 `json:"predictions"`
	Server      string    `json:"server"`
}

// startTFServing speaks TF Serving's REST API for any model name: GET /v1/models/NAME is its status,
// POST /v1/models/NAME:predict with {"instances": [[...], ...]} predicts the sum of each instance.
func startTFServing(t *testing.T, name string) *upstream {
	return serveUpstream(t, name, func(u *upstream) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u.record(r)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Model-Server", name)
			rest, ok := strings.CutPrefix(r.URL.Path, "/v1/models/")
			switch {
			case !ok || rest == "":
				http.Error(w, `{"error": "not a model path"}`, http.StatusNotFound)
			case r.Method == http.MethodGet && !strings.Contains(rest, ":"):
				_ = json.NewEncoder(w).Encode(map[string]any{"model_version_status": []map[string]any{{
					"version": "1", "state": "AVAILABLE", "status": map[string]string{"error_code": "OK", "error_message": ""},
				}}})
			case r.Method == http.MethodPost && strings.HasSuffix(rest, ":predict"):
				var in struct {
					Instances [][]float64 `json:"instances"`
				}
				if err := json.NewDecoder(r.Body).Decode(&in); err != nil || len(in.Instances) == 0 {
					w.WriteHeader(http.StatusBadRequest)
					_ = json.NewEncoder(w).Encode(map[string]string{"error": "want {\"instances\": [[...]]}"})
					return
				}
				out := prediction{Server: name, Predictions: make([]float64, len(in.Instances))}
				for i, inst := range in.Instances {
					for _, x := range inst {
						out.Predictions[i] += x
					}
				}
				_ = json.NewEncoder(w).Encode(out)
			default:
				http.Error(w, `{"error": "unsupported"}`, http.StatusNotFound)
			}
		})
	})
}
