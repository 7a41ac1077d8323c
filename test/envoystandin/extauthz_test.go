package envoystandin_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kfgate/kfgate/test/envoystandin"
)

func authConfig(authPort int, extra string) string {
	return fmt.Sprintf(`apiVersion: getambassador.io/v2
kind: AuthService
name: authn
auth_service: 127.0.0.1:%d
proto: grpc
allowed_request_headers: [x-tenant]
%s`, authPort, extra)
}

const authMappings = `---
apiVersion: getambassador.io/v2
kind: Mapping
name: app
prefix: /app/
service: echo
auth_context_extensions:
  tier: ui
---
apiVersion: getambassador.io/v2
kind: Mapping
name: open
prefix: /open/
service: echo
bypass_auth: true
`

// decide answers by path: /app/deny is refused with 401, anything else allowed with identity headers.
func decide(req *authv3.CheckRequest) *authv3.CheckResponse {
	if req.GetAttributes().GetRequest().GetHttp().GetPath() == "/app/deny" {
		return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.Unauthenticated)},
			HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
				Status:  &typev3.HttpStatus{Code: typev3.StatusCode_Unauthorized},
				Headers: []*corev3.HeaderValueOption{hv("www-authenticate", "Bearer"), hv("set-cookie", "a=1"), hv("set-cookie", "b=2")},
				Body:    "nope",
			}}}
	}
	return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "kubeflow-userid", Value: "alice"},
				Append: wrapperspb.Bool(false)}}, //nolint:staticcheck // kfgate authn sets it; Envoy honours it
			HeadersToRemove:      []string{"x-remove-me", ":path", "host"},
			ResponseHeadersToAdd: []*corev3.HeaderValueOption{hv("set-cookie", "session=s")},
		}}}
}

func hv(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v}}
}

// TestExtAuthz plays kfgate's AuthService against a tiny Authorization server: an allowed request
// reaches the upstream with the OK response's headers applied; a denied one gets the denial; a
// bypass_auth route is never checked; the CheckRequest is the one Envoy builds.
func TestExtAuthz(t *testing.T) {
	_, echoPort := startEcho(t)
	authz, authPort := startAuthz(t, decide)
	cp := startControlPlane(t)
	cp.apply(echoService(echoPort, authConfig(authPort, "")+authMappings))
	e := startEnvoy(t, cp, envoystandin.Options{})
	waitRoutes(t, e, cp)
	addr := e.Addr(8080)

	resp := get(t, addr, "/app/x?y=1", map[string]string{"Host": "gw.example", "Kubeflow-Userid": "mallory",
		"X-Remove-Me": "1", "X-Tenant": "t1", "X-Other": "o"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("allowed request: status %d", resp.StatusCode)
	}
	up := decodeEcho(t, resp)
	if up.Headers["kubeflow-userid"] != "alice" || up.Headers["x-remove-me"] != "" || up.Path != "/x?y=1" {
		t.Errorf("upstream got kubeflow-userid %q, x-remove-me %q, path %q; want alice, none, /x?y=1",
			up.Headers["kubeflow-userid"], up.Headers["x-remove-me"], up.Path)
	}
	if c := resp.Header.Values("Set-Cookie"); !slices.Equal(c, []string{"app=1", "session=s"}) {
		t.Errorf("Set-Cookie %q, want the app's and the auth service's", c)
	}

	reqs := authz.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d CheckRequests, want 1", len(reqs))
	}
	attrs := reqs[0].GetAttributes()
	h := attrs.GetRequest().GetHttp()
	if h.GetPath() != "/app/x?y=1" || h.GetHost() != "gw.example" || h.GetMethod() != "GET" || h.GetScheme() != "http" ||
		h.GetProtocol() != "HTTP/1.1" {
		t.Errorf("CheckRequest http %v: want the request before the rewrite", h)
	}
	if _, err := strconv.ParseUint(h.GetId(), 10, 64); err != nil {
		t.Errorf("request.http.id %q: want the decimal stream id", h.GetId())
	}
	// Only allowed headers are sent: kfgate's list plus allowed_request_headers, no pseudo-headers.
	if h.GetHeaders()["x-tenant"] != "t1" || h.GetHeaders()["x-forwarded-proto"] != "http" || h.GetHeaders()["x-other"] != "" ||
		h.GetHeaders()[":path"] != "" {
		t.Errorf("CheckRequest headers %v: want the allowed ones only", h.GetHeaders())
	}
	if src := attrs.GetSource().GetAddress().GetSocketAddress(); src.GetAddress() != "127.0.0.1" || src.GetPortValue() == 0 {
		t.Errorf("source %v: want the downstream peer", src)
	}
	if dst := attrs.GetDestination().GetAddress().GetSocketAddress(); fmt.Sprint(dst.GetAddress(), ":", dst.GetPortValue()) != addr {
		t.Errorf("destination %v: want the listener's address %s", dst, addr)
	}
	want := map[string]string{"tier": "ui", "namespace": "default", "service": "echo", "mapping": "app"}
	for k, v := range want {
		if attrs.GetContextExtensions()[k] != v {
			t.Errorf("context_extensions %v: want %s=%s", attrs.GetContextExtensions(), k, v)
		}
	}

	resp = get(t, addr, "/app/deny", nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnauthorized || string(body) != "nope" || resp.Header.Get("Www-Authenticate") != "Bearer" ||
		!slices.Equal(resp.Header.Values("Set-Cookie"), []string{"a=1", "b=2"}) || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("denied: %d %q %v; want 401 nope with the denial's headers", resp.StatusCode, body, resp.Header)
	}

	n := len(authz.requests())
	if resp := get(t, addr, "/open/x", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("bypass_auth route: status %d", resp.StatusCode)
	}
	if len(authz.requests()) != n {
		t.Errorf("a bypass_auth route was checked")
	}
	if resp := get(t, addr, "/nothing", nil); resp.StatusCode != http.StatusNotFound || len(authz.requests()) != n {
		t.Errorf("no route: status %d, checks %d; want 404 without a check", resp.StatusCode, len(authz.requests())-n)
	}
}

// TestExtAuthzStatusOnError: an auth service that fails answers status_on_error.
func TestExtAuthzStatusOnError(t *testing.T) {
	_, echoPort := startEcho(t)
	_, authPort := startAuthz(t, func(*authv3.CheckRequest) *authv3.CheckResponse { return nil })
	cp := startControlPlane(t)
	cp.apply(echoService(echoPort, authConfig(authPort, "status_on_error:\n  code: 503\n")+authMappings))
	e := startEnvoy(t, cp, envoystandin.Options{})
	waitRoutes(t, e, cp)
	if resp := get(t, e.Addr(8080), "/app/x", nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want status_on_error 503", resp.StatusCode)
	}
}

// TestExtAuthzRequestBody: include_body buffers up to max_bytes for the check (a partial body
// flagged so), and the upstream still gets the whole body.
func TestExtAuthzRequestBody(t *testing.T) {
	_, echoPort := startEcho(t)
	authz, authPort := startAuthz(t, decide)
	cp := startControlPlane(t)
	cp.apply(echoService(echoPort, authConfig(authPort, "include_body:\n  max_bytes: 4\n  allow_partial: true\n")+authMappings))
	e := startEnvoy(t, cp, envoystandin.Options{})
	waitRoutes(t, e, cp)
	resp, err := http.Post("http://"+e.Addr(8080)+"/app/x", "text/plain", strings.NewReader("hello world"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if up := decodeEcho(t, resp); up.Body != "hello world" {
		t.Errorf("upstream got body %q, want all of it", up.Body)
	}
	h := authz.requests()[0].GetAttributes().GetRequest().GetHttp()
	if h.GetBody() != "hell" || h.GetHeaders()["x-envoy-auth-partial-body"] != "true" || h.GetSize() != 11 {
		t.Errorf("CheckRequest body %q, partial %q, size %d; want the first 4 bytes, partial, the 11 bytes received",
			h.GetBody(), h.GetHeaders()["x-envoy-auth-partial-body"], h.GetSize())
	}
}
