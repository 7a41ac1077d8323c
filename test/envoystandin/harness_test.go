package envoystandin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/kfgate/kfgate/gateway/build"
	"github.com/kfgate/kfgate/gateway/controlplane"
	"github.com/kfgate/kfgate/gateway/diagnostics"
	"github.com/kfgate/kfgate/gateway/server"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/test/envoystandin"
)

const waitFor = 20 * time.Second

// controlPlane is a real kfgate xDS server fed source objects.
type controlPlane struct {
	t      *testing.T
	runner *controlplane.Runner
	srv    *server.Server
	addr   string
}

func startControlPlane(t *testing.T) *controlPlane {
	t.Helper()
	reg := prometheus.NewRegistry()
	srv := server.New(server.Options{Registry: reg})
	diag := diagnostics.New(reg, srv.Ready)
	cp := &controlPlane{t: t, runner: controlplane.New(build.Options{}, srv, diag, reg, logr.Discard()), srv: srv}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cp.addr = lis.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return cp
}

// apply makes the configuration that of the YAML documents.
func (cp *controlPlane) apply(yaml string) {
	cp.t.Helper()
	var objs source.Objects
	source.ParseFile(&objs, "test.yaml", yaml)
	if len(objs.Diagnostics) > 0 {
		cp.t.Fatalf("parsing the test objects: %v", objs.Diagnostics)
	}
	if err := cp.runner.Apply(context.Background(), objs); err != nil {
		cp.t.Fatalf("apply: %v", err)
	}
}

// startEnvoy starts a stand-in on the control plane, listening for port 8080, failing the test on
// any NACK.
func startEnvoy(t *testing.T, cp *controlPlane, opts envoystandin.Options) *envoystandin.Envoy {
	t.Helper()
	opts.XDSAddress, opts.NodeID, opts.NodeCluster = cp.addr, "standin-"+t.Name(), "kfgate-test"
	if opts.Ports == nil {
		opts.Ports = map[uint32]string{8080: "127.0.0.1:0"}
	}
	if opts.TB == nil {
		opts.TB = t
	}
	e, err := envoystandin.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// waitRoutes waits until the stand-in serves the control plane's current route version.
func waitRoutes(t *testing.T, e *envoystandin.Envoy, cp *controlPlane) envoystandin.State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	want := cp.srv.TypeVersion("type.googleapis.com/envoy.config.route.v3.RouteConfiguration")
	st, err := e.Wait(ctx, func(s envoystandin.State) bool {
		return s.Versions["type.googleapis.com/envoy.config.route.v3.RouteConfiguration"] == want && s.HasListeners("http-8080")
	})
	if err != nil {
		t.Fatalf("waiting for route version %s: %v (state %+v)", want, err, st)
	}
	return st
}

// echoed is what the echo upstream saw.
type echoed struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Host    string            `json:"host"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// startEcho starts an upstream that answers every request with what it received, as JSON.
func startEcho(t *testing.T) (host string, port int) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e := echoed{Method: r.Method, Path: r.RequestURI, Host: r.Host, Headers: map[string]string{}, Body: string(body)}
		for k, vs := range r.Header {
			e.Headers[strings.ToLower(k)] = strings.Join(vs, ",")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("Set-Cookie", "app=1")
		_ = json.NewEncoder(w).Encode(e)
	})}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	a := lis.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

// get sends one request through the stand-in, without following redirects.
func get(t *testing.T, addr, target string, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(target, "/") {
		req.URL.Opaque, _, _ = strings.Cut(target, "?") // keep the path exactly as written
	}
	for k, v := range headers {
		if strings.EqualFold(k, "host") {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func decodeEcho(t *testing.T, resp *http.Response) echoed {
	t.Helper()
	var e echoed
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("status %d, body %q: not the echo upstream's answer: %v", resp.StatusCode, b, err)
	}
	return e
}

// authzServer is a tiny ext_authz gRPC service: decide answers each CheckRequest, which is kept.
type authzServer struct {
	authv3.UnimplementedAuthorizationServer
	mu     sync.Mutex
	got    []*authv3.CheckRequest
	decide func(*authv3.CheckRequest) *authv3.CheckResponse
}

func (a *authzServer) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	a.mu.Lock()
	a.got = append(a.got, proto.Clone(req).(*authv3.CheckRequest))
	a.mu.Unlock()
	if resp := a.decide(req); resp != nil {
		return resp, nil
	}
	return nil, status.Error(codes.Unavailable, "the test's auth service fails")
}

func (a *authzServer) requests() []*authv3.CheckRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*authv3.CheckRequest(nil), a.got...)
}

func startAuthz(t *testing.T, decide func(*authv3.CheckRequest) *authv3.CheckResponse) (*authzServer, int) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &authzServer{decide: decide}
	gs := grpc.NewServer()
	authv3.RegisterAuthorizationServer(gs, a)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	return a, lis.Addr().(*net.TCPAddr).Port
}

// echoService is a Service with Mappings and an EndpointSlice whose one endpoint is the echo
// upstream: kfgate makes it an EDS cluster.
func echoService(port int, mappings string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: echo
  namespace: default
  annotations:
    getambassador.io/config: |
%s
spec:
  ports:
  - name: http
    port: 80
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: echo-1
  namespace: default
  labels:
    kubernetes.io/service-name: echo
addressType: IPv4
ports:
- name: http
  port: %d
endpoints:
- addresses: [127.0.0.1]
  conditions: {ready: true}
`, indent(mappings, "      "), port)
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = by + l
	}
	return strings.Join(lines, "\n")
}
