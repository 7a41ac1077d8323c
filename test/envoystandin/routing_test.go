package envoystandin_test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"testing"

	"github.com/kfgate/kfgate/test/envoystandin"
)

// TestMappingRoutesToEDSUpstream: a Mapping with a prefix rewrite reaches the echo upstream through
// an EDS cluster built from an EndpointSlice; the request carries what Envoy adds; an edit takes
// effect without a restart; a path no route matches is a 404.
func TestMappingRoutesToEDSUpstream(t *testing.T) {
	_, port := startEcho(t)
	cp := startControlPlane(t)
	mapping := func(prefix string) string {
		return fmt.Sprintf("---\napiVersion: getambassador.io/v2\nkind: Mapping\nname: echo\nprefix: %s\nrewrite: /in/\nservice: echo\n", prefix)
	}
	cp.apply(echoService(port, mapping("/one/")))
	e := startEnvoy(t, cp, envoystandin.Options{NodeAddress: "10.9.9.9"})
	st := waitRoutes(t, e, cp)
	if got := st.Endpoints["default/echo/80"]; len(got) != 1 || got[0] != fmt.Sprint("127.0.0.1:", port) {
		t.Fatalf("EDS endpoints %v, want the echo upstream", st.Endpoints)
	}
	addr := e.Addr(8080)

	resp := get(t, addr, "/one/a/b?q=1", map[string]string{"Host": "gw.example", "X-Forwarded-For": "192.0.2.1"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	got := decodeEcho(t, resp)
	if got.Path != "/in/a/b?q=1" || got.Host != "gw.example" {
		t.Errorf("upstream got path %q host %q, want /in/a/b?q=1 on gw.example", got.Path, got.Host)
	}
	want := map[string]string{
		"x-envoy-original-path":          "/one/a/b?q=1",
		"x-forwarded-proto":              "http",
		"x-forwarded-for":                "192.0.2.1,10.9.9.9", // a loopback peer: Envoy appends its own address
		"x-envoy-external-address":       "127.0.0.1",
		"x-envoy-expected-rq-timeout-ms": "3000",
	}
	for k, v := range want {
		if got.Headers[k] != v {
			t.Errorf("upstream header %s = %q, want %q", k, got.Headers[k], v)
		}
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if id := got.Headers["x-request-id"]; !uuid.MatchString(id) || resp.Header.Get("X-Request-Id") != id {
		t.Errorf("x-request-id %q upstream, %q downstream; want one generated UUID in both", id, resp.Header.Get("X-Request-Id"))
	}
	if resp.Header.Get("Server") != "envoy" || resp.Header.Get("X-Envoy-Upstream-Service-Time") == "" {
		t.Errorf("response headers %v lack server: envoy or x-envoy-upstream-service-time", resp.Header)
	}

	// A client's own x-request-id is replaced at the edge (preserve_external_request_id is off).
	resp = get(t, addr, "/one/", map[string]string{"X-Request-Id": "mine"})
	if id := decodeEcho(t, resp).Headers["x-request-id"]; id == "mine" || !uuid.MatchString(id) {
		t.Errorf("x-request-id %q: an edge request's own id must be replaced", id)
	}

	if resp := get(t, addr, "/two/x", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("no route: status %d, want 404", resp.StatusCode)
	}

	cp.apply(echoService(port, mapping("/two/")))
	waitRoutes(t, e, cp)
	if resp := get(t, addr, "/two/x", nil); resp.StatusCode != http.StatusOK || decodeEcho(t, resp).Path != "/in/x" {
		t.Fatalf("after the edit /two/x gets %d, want 200 at /in/x", resp.StatusCode)
	}
	if resp := get(t, addr, "/one/x", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("after the edit /one/x gets %d, want 404", resp.StatusCode)
	}
	if len(e.State().Rejections) != 0 {
		t.Fatalf("NACKs: %v", e.State().Rejections)
	}
}

// TestStrictDNSCluster: a Mapping to host:port is a STRICT_DNS cluster, resolved at request time.
func TestStrictDNSCluster(t *testing.T) {
	_, port := startEcho(t)
	cp := startControlPlane(t)
	cp.apply(fmt.Sprintf(`apiVersion: getambassador.io/v2
kind: Mapping
name: dns
prefix: /dns/
service: 127.0.0.1:%d
`, port))
	e := startEnvoy(t, cp, envoystandin.Options{})
	waitRoutes(t, e, cp)
	resp := get(t, e.Addr(8080), "/dns/x", nil)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d (%s), want 200", resp.StatusCode, b)
	}
	if p := decodeEcho(t, resp).Path; p != "/x" {
		t.Fatalf("path %q, want /x", p)
	}
}
