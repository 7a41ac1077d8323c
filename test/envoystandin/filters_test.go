package envoystandin_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/kfgate/kfgate/test/envoystandin"
)

// TestLocalRateLimit: a route's token bucket lets burst requests through, then answers 429
// local_rate_limited; every response carries the x-ratelimit headers.
func TestLocalRateLimit(t *testing.T) {
	_, port := startEcho(t)
	cp := startControlPlane(t)
	cp.apply(echoService(port, `---
apiVersion: getambassador.io/v2
kind: Mapping
name: limited
prefix: /limited/
service: echo
local_rate_limit: {requests: 2, per: minute, burst: 2}
---
apiVersion: getambassador.io/v2
kind: Mapping
name: free
prefix: /free/
service: echo
`))
	e := startEnvoy(t, cp, envoystandin.Options{})
	waitRoutes(t, e, cp)
	addr := e.Addr(8080)
	for i, want := range []struct {
		status    int
		remaining string
	}{{200, "1"}, {200, "0"}, {429, "0"}} {
		resp := get(t, addr, "/limited/x", nil)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want.status || resp.Header.Get("X-Ratelimit-Limit") != "2" ||
			resp.Header.Get("X-Ratelimit-Remaining") != want.remaining || resp.Header.Get("X-Ratelimit-Reset") == "" {
			t.Fatalf("request %d: %d %v; want %d with x-ratelimit-remaining %s", i, resp.StatusCode, resp.Header, want.status, want.remaining)
		}
		if want.status == 429 && string(body) != "local_rate_limited" {
			t.Errorf("limited body %q, want local_rate_limited", body)
		}
	}
	resp := get(t, addr, "/free/x", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Ratelimit-Limit") != "" {
		t.Fatalf("a route without a bucket: %d %v; want 200 without x-ratelimit headers", resp.StatusCode, resp.Header)
	}
}

// TestCORS: a preflight from an allowed origin is answered by the filter; a simple request gets the
// allow-origin, credentials and expose headers; another origin's preflight goes to the upstream.
func TestCORS(t *testing.T) {
	_, port := startEcho(t)
	cp := startControlPlane(t)
	cp.apply(echoService(port, `---
apiVersion: getambassador.io/v2
kind: Mapping
name: c
prefix: /c/
service: echo
cors:
  origins: [https://a.example.com]
  methods: GET, POST
  headers: [content-type]
  exposed_headers: x-trace
  credentials: true
  max_age: 86400
`))
	e := startEnvoy(t, cp, envoystandin.Options{})
	waitRoutes(t, e, cp)
	addr := e.Addr(8080)

	pre := request(t, http.MethodOptions, addr, "/c/x", map[string]string{"Origin": "https://a.example.com",
		"Access-Control-Request-Method": "POST"})
	want := map[string]string{"Access-Control-Allow-Origin": "https://a.example.com", "Access-Control-Allow-Methods": "GET,POST",
		"Access-Control-Allow-Headers": "content-type", "Access-Control-Max-Age": "86400",
		"Access-Control-Allow-Credentials": "true", "Access-Control-Expose-Headers": "x-trace"}
	if pre.StatusCode != http.StatusOK || pre.Header.Get("Content-Type") == "application/json" {
		t.Fatalf("preflight: %d %v; want the filter's 200", pre.StatusCode, pre.Header)
	}
	for k, v := range want {
		if pre.Header.Get(k) != v {
			t.Errorf("preflight %s = %q, want %q", k, pre.Header.Get(k), v)
		}
	}
	simple := get(t, addr, "/c/x", map[string]string{"Origin": "https://a.example.com"})
	if simple.Header.Get("Access-Control-Allow-Origin") != "https://a.example.com" || simple.Header.Get("Access-Control-Expose-Headers") != "x-trace" {
		t.Errorf("simple request: %v; want allow-origin and expose-headers", simple.Header)
	}
	other := request(t, http.MethodOptions, addr, "/c/x", map[string]string{"Origin": "https://evil.example",
		"Access-Control-Request-Method": "POST"})
	if other.Header.Get("Content-Type") != "application/json" || other.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a preflight from another origin: %v; want it forwarded, without allow-origin", other.Header)
	}
}

func request(t *testing.T, method, addr, target string, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}
