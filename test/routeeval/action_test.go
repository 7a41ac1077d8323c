package routeeval

import (
	"slices"
	"testing"
	"time"

	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

const redirectConfig = `
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - {name: https, match: {prefix: /https}, redirect: {https_redirect: true}}
  - {name: http, match: {prefix: /http}, redirect: {scheme_redirect: http}}
  - {name: host, match: {prefix: /host}, redirect: {host_redirect: new.example.org, response_code: FOUND}}
  - {name: port, match: {prefix: /port}, redirect: {port_redirect: 8443, response_code: SEE_OTHER}}
  - {name: path, match: {prefix: /path}, redirect: {path_redirect: /elsewhere, response_code: TEMPORARY_REDIRECT}}
  - {name: strip, match: {prefix: /strip}, redirect: {path_redirect: /s, strip_query: true, response_code: PERMANENT_REDIRECT}}
  - {name: ownq, match: {prefix: /ownq}, redirect: {path_redirect: "/o?x=1", strip_query: true}}
  - {name: prefix, match: {prefix: /old/}, redirect: {prefix_rewrite: /new/}}
  - {name: regex, match: {prefix: /rx/}, redirect: {regex_rewrite: {pattern: {regex: "^/rx/(.*)$"}, substitution: "/v2/\\1"}}}
  - {name: relative, match: {prefix: /rel}, redirect: {path_redirect: "rel2"}}
`

func redirectTo(route, location string, code int) core {
	return core{Matched: true, VHost: "vh", Route: route, Location: location, Code: code}
}

func TestRedirects(t *testing.T) {
	r := compileYAML(t, redirectConfig)
	httpsReq := func(host, path string) Request {
		q := req(host, path)
		q.Scheme = "https"
		return q
	}
	pfx := redirectTo("prefix", "http://h/new/x?q=1", 301)
	pfx.Path = "/new/x?q=1"
	rx := redirectTo("regex", "http://h/v2/a/b?q", 301)
	rx.Path = "/v2/a/b?q"
	runCases(t, r, []routeCase{
		{"https_redirect drops :80", req("h:80", "/https?a=1"), redirectTo("https", "https://h/https?a=1", 301)},
		{"https_redirect keeps other port", req("h:8080", "/https"), redirectTo("https", "https://h:8080/https", 301)},
		{"same scheme keeps :443", httpsReq("h:443", "/https"), redirectTo("https", "https://h:443/https", 301)},
		{"scheme_redirect http drops :443", httpsReq("h:443", "/http"), redirectTo("http", "http://h/http", 301)},
		{"ipv6 default port dropped", req("[::1]:80", "/https"), redirectTo("https", "https://[::1]/https", 301)},
		{"host_redirect", req("h:8080", "/host/x?y"), redirectTo("host", "http://new.example.org/host/x?y", 302)},
		{"port_redirect replaces port", req("h:8080", "/port"), redirectTo("port", "http://h:8443/port", 303)},
		{"path_redirect keeps query", req("h", "/path/x?k=v"), redirectTo("path", "http://h/elsewhere?k=v", 307)},
		{"strip_query", req("h", "/strip?k=v"), redirectTo("strip", "http://h/s", 308)},
		{"path_redirect query wins over strip_query", req("h", "/ownq?k=v"), redirectTo("ownq", "http://h/o?x=1", 301)},
		{"prefix_rewrite swaps the matched prefix", req("h", "/old/x?q=1"), pfx},
		{"regex_rewrite", req("h", "/rx/a/b?q"), rx},
		{"path gets a leading slash", req("h", "/rel"), redirectTo("relative", "http://h/rel2", 301)},
	})
}

func TestRequireTLS(t *testing.T) {
	r := compileYAML(t, `
virtual_hosts:
- {name: all, domains: [all.com, "all.com:8080"], require_tls: ALL, routes: [{match: {prefix: /}, route: {cluster: all}}]}
- {name: ext, domains: [ext.com], require_tls: EXTERNAL_ONLY, routes: [{match: {prefix: /}, route: {cluster: ext}}]}`)
	internal := withHeaders("/x?y=1", "x-envoy-internal", "true")
	internal.Authority = "ext.com"
	secure := req("all.com", "/")
	secure.Headers = map[string]string{"x-forwarded-proto": "https"}
	tlsTo := func(vh, loc string) core { return core{Matched: true, VHost: vh, Location: loc, Code: 301} }
	runCases(t, r, []routeCase{
		{"ALL redirects http", req("all.com:8080", "/x?y=1"), tlsTo("all", "https://all.com:8080/x?y=1")},
		{"ALL passes https", secure, hit("all", "all")},
		{"EXTERNAL_ONLY redirects external", req("ext.com", "/x"), tlsTo("ext", "https://ext.com/x")},
		{"EXTERNAL_ONLY passes internal", internal, hit("ext", "ext")},
	})
	if d := r.Route(req("all.com", "/")); !d.TLSRedirect {
		t.Errorf("TLSRedirect not set: %+v", d)
	}
}

func TestDirectResponse(t *testing.T) {
	r := compileYAML(t, `
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - {name: ok, match: {path: /ping}, direct_response: {status: 200, body: {inline_string: pong}}}
  - {name: gone, match: {path: /gone}, direct_response: {status: 410}}
  - {name: bytes, match: {path: /b}, direct_response: {status: 201, body: {inline_bytes: aGk=}}}`)
	runCases(t, r, []routeCase{
		{"inline string", req("h", "/ping"), core{Matched: true, VHost: "vh", Route: "ok", Code: 200, Body: "pong"}},
		{"no body", req("h", "/gone"), core{Matched: true, VHost: "vh", Route: "gone", Code: 410}},
		{"inline bytes", req("h", "/b"), core{Matched: true, VHost: "vh", Route: "bytes", Code: 201, Body: "hi"}},
	})
	if uri := r.Route(req("h:8080", "/ping?x")).DirectResponse.URI; uri != "http://h:8080/ping?x" {
		t.Errorf("direct response URI = %q", uri)
	}
}

func TestWeightedClusters(t *testing.T) {
	r := compileYAML(t, `
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - match: {prefix: /}
    route:
      weighted_clusters:
        clusters: [{name: a, weight: 30}, {name: zero, weight: 0}, {name: b, weight: 70}]`)
	for _, tc := range []struct {
		random uint64
		want   string
	}{{0, "a"}, {29, "a"}, {30, "b"}, {99, "b"}, {100, "a"}, {130, "b"}} {
		q := req("h", "/")
		q.Random = tc.random
		d := r.Route(q)
		if d.Cluster != tc.want {
			t.Errorf("random %d: cluster %q, want %q", tc.random, d.Cluster, tc.want)
		}
		want := []WeightedCluster{{"a", 30}, {"zero", 0}, {"b", 70}}
		if !slices.Equal(d.WeightedClusters, want) {
			t.Errorf("WeightedClusters = %v, want %v", d.WeightedClusters, want)
		}
	}
}

func TestRouteActionRecords(t *testing.T) {
	r := compileYAML(t, `
request_mirror_policies: [{cluster: rc-mirror}]
virtual_hosts:
- name: vh
  domains: ["*"]
  retry_policy: {retry_on: 5xx}
  cors: {allow_origin_string_match: [{exact: "*"}]}
  request_mirror_policies: [{cluster: vh-mirror}]
  routes:
  - match: {prefix: /full}
    route:
      cluster: c
      timeout: 30s
      idle_timeout: 0s
      append_x_forwarded_host: true
      upgrade_configs: [{upgrade_type: WebSocket}, {upgrade_type: CONNECT, enabled: false}]
      request_mirror_policies: [{cluster: shadow, runtime_fraction: {default_value: {numerator: 10}}}]
      retry_policy: {retry_on: connect-failure, num_retries: 3}
      hash_policy: [{header: {header_name: x-user}}]
  - {match: {prefix: /}, route: {cluster: c}}`)
	d := r.Route(req("h", "/full"))
	if d.Timeout == nil || *d.Timeout != 30*time.Second || d.IdleTimeout == nil || *d.IdleTimeout != 0 {
		t.Errorf("timeouts: %v %v", d.Timeout, d.IdleTimeout)
	}
	if !slices.Equal(d.Upgrades, []string{"websocket"}) || !slices.Equal(d.DisabledUpgrades, []string{"connect"}) {
		t.Errorf("upgrades %v disabled %v", d.Upgrades, d.DisabledUpgrades)
	}
	if !slices.Equal(d.Mirrors, []string{"shadow"}) || d.MirrorPolicies[0].Fraction.GetNumerator() != 10 ||
		d.MirrorPolicies[0].Fraction.GetDenominator() != typev3.FractionalPercent_HUNDRED {
		t.Errorf("mirrors %v %+v", d.Mirrors, d.MirrorPolicies)
	}
	if d.RetryPolicy.GetNumRetries().GetValue() != 3 || len(d.HashPolicy) != 1 || !d.AppendXForwardedHost || d.CORS == nil {
		t.Errorf("retry %v hash %v xfh %v cors %v", d.RetryPolicy, d.HashPolicy, d.AppendXForwardedHost, d.CORS)
	}
	d = r.Route(req("h", "/other"))
	if d.Timeout != nil || d.RetryPolicy.GetRetryOn() != "5xx" || !slices.Equal(d.Mirrors, []string{"vh-mirror"}) {
		t.Errorf("inherited: timeout %v retry %v mirrors %v", d.Timeout, d.RetryPolicy, d.Mirrors)
	}
}

func TestClusterHeader(t *testing.T) {
	r := compileYAML(t, oneRoute(`{match: {prefix: /}, route: {cluster_header: X-Cluster}}`))
	q := req("h", "/")
	if d := r.Route(q); !d.Matched || d.Cluster != "" {
		t.Errorf("without the header: matched %v, cluster %q; want a match with no cluster (Envoy: 404)", d.Matched, d.Cluster)
	}
	q.Headers = map[string]string{"x-cluster": "blue"}
	if d := r.Route(q); d.Cluster != "blue" {
		t.Errorf("cluster %q, want the header's value blue", d.Cluster)
	}
}

func TestVirtualClusters(t *testing.T) {
	r := compileYAML(t, `
virtual_hosts:
- name: vh
  domains: [vh.example]
  routes: [{match: {prefix: /}, route: {cluster: c}}]
  virtual_clusters:
  - {name: put-user, headers: [{name: ":method", string_match: {exact: PUT}}, {name: ":path", string_match: {prefix: /users/}}]}
  - {name: users, headers: [{name: ":path", string_match: {prefix: /users/}}]}
- name: plain
  domains: ["*"]
  routes: [{match: {prefix: /}, route: {cluster: c}}]`)
	for _, tc := range []struct{ method, host, path, want string }{
		{"PUT", "vh.example", "/users/1", "put-user"},
		{"GET", "vh.example", "/users/1", "users"},
		{"GET", "vh.example", "/other", "other"},
		{"GET", "elsewhere", "/users/1", ""},
	} {
		q := req(tc.host, tc.path)
		q.Method = tc.method
		if d := r.Route(q); d.VirtualCluster != tc.want {
			t.Errorf("%s %s%s: virtual cluster %q, want %q", tc.method, tc.host, tc.path, d.VirtualCluster, tc.want)
		}
	}
}

// TestRuntimeIsConsulted: a Request's Runtime decides runtime_fraction, given the route's key.
func TestRuntimeIsConsulted(t *testing.T) {
	r := compileYAML(t, oneRoute(`{match: {prefix: /, runtime_fraction: {runtime_key: canary, default_value: {numerator: 100}}}, route: {cluster: canary}}, {match: {prefix: /}, route: {cluster: main}}`))
	q := req("h", "/")
	if d := r.Route(q); d.Cluster != "canary" {
		t.Errorf("empty runtime: cluster %q, want canary (default 100%%)", d.Cluster)
	}
	off := &keyRecorder{}
	q.Runtime = off
	if d := r.Route(q); d.Cluster != "main" || off.key != "canary" {
		t.Errorf("runtime off: cluster %q, key asked %q; want main and canary", d.Cluster, off.key)
	}
}

// keyRecorder is a runtime that turns every feature off and records the key it was asked about.
type keyRecorder struct{ key string }

func (k *keyRecorder) FeatureEnabled(key string, _ *typev3.FractionalPercent, _ uint64) bool {
	k.key = key
	return false
}
