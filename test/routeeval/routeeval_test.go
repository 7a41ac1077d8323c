package routeeval

import (
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// rcFromYAML parses a RouteConfiguration written in YAML (sigs.k8s.io/yaml → protojson).
func rcFromYAML(t *testing.T, y string) *routev3.RouteConfiguration {
	t.Helper()
	rc, err := parseRouteConfig([]byte(y))
	if err != nil {
		t.Fatalf("parse route configuration: %v\n%s", err, y)
	}
	return rc
}

func compileYAML(t *testing.T, y string) *Router {
	t.Helper()
	r, err := Compile(rcFromYAML(t, y))
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return r
}

// core is the part of a Decision most tests assert on.
type core struct {
	Matched  bool
	VHost    string
	Route    string
	Cluster  string
	Path     string // "" in a want means "the request path, unchanged"
	Host     string // "" in a want means "the request authority, unchanged"
	Location string
	Code     int // redirect code or direct response status
	Body     string
}

func coreOf(d Decision) core {
	c := core{Matched: d.Matched, VHost: d.VirtualHost, Route: d.RouteName, Cluster: d.Cluster, Path: d.Path, Host: d.Host}
	if d.Redirect != nil {
		c.Location, c.Code = d.Redirect.Location, d.Redirect.Code
	}
	if d.DirectResponse != nil {
		c.Code, c.Body = d.DirectResponse.Status, d.DirectResponse.Body
	}
	return c
}

type routeCase struct {
	name string
	req  Request
	want core
}

func runCases(t *testing.T, r *Router, cases []routeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want.Matched && want.Path == "" {
				want.Path = tc.req.Path
			}
			if want.Matched && want.Host == "" {
				want.Host = tc.req.Authority
			}
			if got := coreOf(r.Route(tc.req)); got != want {
				t.Errorf("Route(%+v)\n got %+v\nwant %+v", tc.req, got, want)
			}
		})
	}
}

func req(host, path string) Request {
	return Request{Authority: host, Method: "GET", Path: path}
}

func hit(vhost, cluster string) core {
	return core{Matched: true, VHost: vhost, Cluster: cluster}
}

const vhostConfig = `
virtual_hosts:
- name: exact
  domains: [example.com, "example.com:8080"]
  routes: [{match: {prefix: /}, route: {cluster: exact}}]
- name: suffix
  domains: ["*.example.com"]
  routes: [{match: {prefix: /}, route: {cluster: suffix}}]
- name: longer-suffix
  domains: ["*.b.example.com"]
  routes: [{match: {prefix: /}, route: {cluster: longer-suffix}}]
- name: prefix
  domains: ["api.*"]
  routes: [{match: {prefix: /}, route: {cluster: prefix}}]
- name: longer-prefix
  domains: ["api.internal.*"]
  routes: [{match: {prefix: /}, route: {cluster: longer-prefix}}]
- name: default
  domains: ["*"]
  routes: [{match: {prefix: /}, route: {cluster: default}}]
`

func TestVirtualHostSelection(t *testing.T) {
	r := compileYAML(t, vhostConfig)
	runCases(t, r, []routeCase{
		{"exact", req("example.com", "/"), hit("exact", "exact")},
		{"exact is case-insensitive", req("EXAMPLE.Com", "/"), hit("exact", "exact")},
		{"port is part of the host", req("example.com:8080", "/"), hit("exact", "exact")},
		{"unknown port falls to default", req("example.com:9090", "/"), hit("default", "default")},
		{"suffix wildcard", req("a.example.com", "/"), hit("suffix", "suffix")},
		{"longest suffix first", req("x.b.example.com", "/"), hit("longer-suffix", "longer-suffix")},
		{"wildcard needs one char", req("b.example.com", "/"), hit("suffix", "suffix")},
		{"bare suffix is not a match", req(".example.com", "/"), hit("default", "default")},
		{"suffix before prefix", req("api.example.com", "/"), hit("suffix", "suffix")},
		{"prefix wildcard", req("api.foo.org", "/"), hit("prefix", "prefix")},
		{"longest prefix first", req("api.internal.x", "/"), hit("longer-prefix", "longer-prefix")},
		{"prefix needs one char", req("api.", "/"), hit("default", "default")},
		{"default", req("other.org", "/"), hit("default", "default")},
	})
}

func TestVirtualHostNoMatch(t *testing.T) {
	r := compileYAML(t, `
virtual_hosts:
- name: only
  domains: [example.com]
  routes: [{match: {prefix: /}, route: {cluster: c}}]`)
	runCases(t, r, []routeCase{
		{"unknown host", req("other.com", "/"), core{}},
		{"missing host", req("", "/"), core{}},
		{"known host", req("example.com", "/"), hit("only", "c")},
	})
	def := compileYAML(t, `
virtual_hosts:
- {name: any, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: c}}]}`)
	// Only a default virtual host: selected even without a host (CI findVirtualHost fast path).
	runCases(t, def, []routeCase{{"no host, default only", req("", "/"), hit("any", "c")}})
}

func TestIgnorePortInHostMatching(t *testing.T) {
	r := compileYAML(t, `
ignore_port_in_host_matching: true
virtual_hosts:
- {name: a, domains: [example.com], routes: [{match: {prefix: /}, route: {cluster: a}}]}
- {name: v6, domains: ["[::1]"], routes: [{match: {prefix: /}, route: {cluster: v6}}]}`)
	runCases(t, r, []routeCase{
		{"port stripped", req("example.com:8443", "/"), hit("a", "a")},
		{"ipv6 with port", req("[::1]:80", "/"), hit("v6", "v6")},
		{"ipv6 without port", req("[::1]", "/"), hit("v6", "v6")},
	})
}

const pathConfig = `
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - {name: exact, match: {path: /exact}, route: {cluster: exact}}
  - {name: exact-ci, match: {path: /CI, case_sensitive: false}, route: {cluster: exact-ci}}
  - {name: regex, match: {safe_regex: {regex: "/users/[0-9]+"}}, route: {cluster: regex}}
  - {name: regex-ci-ignored, match: {safe_regex: {regex: "/lower"}, case_sensitive: false}, route: {cluster: lower}}
  - {name: sep, match: {path_separated_prefix: /sep}, route: {cluster: sep}}
  - {name: prefix-ci, match: {prefix: /Api, case_sensitive: false}, route: {cluster: api}}
  - {name: prefix, match: {prefix: /static}, route: {cluster: static}}
  - {name: shadowed, match: {prefix: /static/more}, route: {cluster: never}}
  - {name: query, match: {path: /q}, route: {cluster: q}}
`

func named(route, cluster string) core {
	return core{Matched: true, VHost: "vh", Route: route, Cluster: cluster}
}

func TestPathMatching(t *testing.T) {
	r := compileYAML(t, pathConfig)
	runCases(t, r, []routeCase{
		{"exact", req("h", "/exact"), named("exact", "exact")},
		{"exact is not a prefix", req("h", "/exact/more"), core{VHost: "vh"}},
		{"exact is case-sensitive", req("h", "/EXACT"), core{VHost: "vh"}},
		{"exact case-insensitive", req("h", "/ci"), named("exact-ci", "exact-ci")},
		{"regex full match", req("h", "/users/42"), named("regex", "regex")},
		{"regex must match whole path", req("h", "/users/42/x"), core{VHost: "vh"}},
		{"regex ignores query", req("h", "/users/42?a=b"), named("regex", "regex")},
		{"regex ignores case_sensitive", req("h", "/LOWER"), core{VHost: "vh"}},
		{"path_separated_prefix equal", req("h", "/sep"), named("sep", "sep")},
		{"path_separated_prefix then slash", req("h", "/sep/x"), named("sep", "sep")},
		{"path_separated_prefix then query", req("h", "/sep?x"), named("sep", "sep")},
		{"path_separated_prefix needs separator", req("h", "/separate"), core{VHost: "vh"}},
		{"prefix case-insensitive", req("h", "/aPI/x"), named("prefix-ci", "api")},
		{"prefix", req("h", "/static/more/x"), named("prefix", "static")},
		{"prefix is case-sensitive", req("h", "/STATIC"), core{VHost: "vh"}},
		{"path ignores query", req("h", "/q?x=1"), named("query", "q")},
		{"path ignores fragment", req("h", "/q#frag"), named("query", "q")},
	})
}

func TestIgnorePathParameters(t *testing.T) {
	r := compileYAML(t, `
ignore_path_parameters_in_path_matching: true
virtual_hosts:
- name: vh
  domains: ["*"]
  routes: [{name: p, match: {path: /a}, route: {cluster: a, prefix_rewrite: /b}}]`)
	runCases(t, r, []routeCase{
		{"parameters ignored for matching", req("h", "/a;x=1"), core{Matched: true, VHost: "vh", Route: "p", Cluster: "a", Path: "/b;x=1"}},
	})
}

func TestFirstMatchWins(t *testing.T) {
	r := compileYAML(t, `
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - {name: post, match: {prefix: /, headers: [{name: ":method", string_match: {exact: POST}}]}, route: {cluster: writes}}
  - {name: all, match: {prefix: /}, route: {cluster: all}}
  - {name: api, match: {prefix: /api}, route: {cluster: never}}`)
	post := req("h", "/api")
	post.Method = "POST"
	runCases(t, r, []routeCase{
		{"earlier specific route", post, named("post", "writes")},
		{"catch-all before longer prefix", req("h", "/api"), named("all", "all")},
	})
}

func TestRewrites(t *testing.T) {
	r := compileYAML(t, `
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - {name: p, match: {prefix: /old/}, route: {cluster: c, prefix_rewrite: /new/}}
  - {name: root, match: {prefix: /strip}, route: {cluster: c, prefix_rewrite: /}}
  - {name: ci, match: {prefix: /CASE, case_sensitive: false}, route: {cluster: c, prefix_rewrite: /case}}
  - {name: exact, match: {path: /exact}, route: {cluster: c, prefix_rewrite: /rewritten}}
  - {name: re, match: {safe_regex: {regex: "/re/.*"}}, route: {cluster: c, prefix_rewrite: /whole}}
  - name: rx
    match: {prefix: /rx/}
    route:
      cluster: c
      regex_rewrite: {pattern: {regex: "^/rx/([a-z]+)/([0-9]+)$"}, substitution: "/\\2/\\1"}
  - name: all
    match: {prefix: /all/}
    route: {cluster: c, regex_rewrite: {pattern: {regex: "o"}, substitution: "0"}}
  - {name: host, match: {prefix: /host}, route: {cluster: c, host_rewrite_literal: upstream.internal}}
  - {name: auto, match: {prefix: /auto}, route: {cluster: c, auto_host_rewrite: true}}`)
	rw := func(route, path string) core {
		return core{Matched: true, VHost: "vh", Route: route, Cluster: "c", Path: path}
	}
	hostCase := rw("host", "/host")
	hostCase.Host = "upstream.internal"
	runCases(t, r, []routeCase{
		{"prefix swapped, query kept", req("h", "/old/x?q=1"), rw("p", "/new/x?q=1")},
		{"prefix to root", req("h", "/strip/x"), rw("root", "//x")},
		{"case-insensitive prefix replaced by length", req("h", "/cAsE/x"), rw("ci", "/case/x")},
		{"path route replaces the path", req("h", "/exact?z"), rw("exact", "/rewritten?z")},
		{"regex route replaces the whole path", req("h", "/re/a/b?k=v"), rw("re", "/whole?k=v")},
		{"regex_rewrite with groups", req("h", "/rx/abc/123?k=v"), rw("rx", "/123/abc?k=v")},
		{"regex_rewrite replaces all matches", req("h", "/all/foo?o=o"), rw("all", "/all/f00?o=o")},
		{"host_rewrite_literal", req("h", "/host"), hostCase},
	})
	d := r.Route(req("h", "/auto"))
	if !d.AutoHostRewrite || d.Host != "h" {
		t.Errorf("auto_host_rewrite: got AutoHostRewrite=%v Host=%q", d.AutoHostRewrite, d.Host)
	}
}

func TestApplyLeavesNonForwardedRequests(t *testing.T) {
	r := compileYAML(t, redirectConfig)
	q := withHeaders("/https", "x-a", "1")
	d := r.Route(q)
	if got := d.Apply(q); got.Path != q.Path || got.Authority != q.Authority || got.Headers["x-a"] != "1" {
		t.Errorf("Apply on a redirect changed the request: %+v", got)
	}
}

func TestRouteConcurrent(t *testing.T) {
	r := compileYAML(t, pathConfig)
	done := make(chan string)
	for i := 0; i < 8; i++ {
		go func() { done <- r.Route(req("h", "/users/1")).Cluster }()
	}
	for i := 0; i < 8; i++ {
		if got := <-done; got != "regex" {
			t.Errorf("cluster %q", got)
		}
	}
}

func TestHeaderNamesAreLowerCased(t *testing.T) {
	r := headerRoutes(t, map[string]string{"env": `{name: x-env, string_match: {exact: prod}}`})
	q := withHeaders("/env", "X-Env", "prod", "X-Forwarded-Proto", "https")
	if got := r.Route(q).Cluster; got != "env" {
		t.Errorf("cluster %q, want env", got)
	}
	if h := q.HeaderMap(); h["x-env"] != "prod" || h["x-forwarded-proto"] != "https" || h[":scheme"] != "http" {
		t.Errorf("HeaderMap %v", h)
	}
}
