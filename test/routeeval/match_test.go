package routeeval

import (
	"maps"
	"slices"
	"testing"
)

// headerRoutes builds one virtual host whose routes each test one header matcher (YAML flow
// mapping) and a catch-all "none" route.
func headerRoutes(t *testing.T, matchers map[string]string) *Router {
	t.Helper()
	y := "virtual_hosts:\n- name: vh\n  domains: [\"*\"]\n  routes:\n"
	for _, name := range slices.Sorted(maps.Keys(matchers)) {
		y += "  - {name: " + name + ", match: {path_separated_prefix: /" + name + ", headers: [" + matchers[name] + "]}, route: {cluster: " + name + "}}\n"
	}
	y += "  - {name: none, match: {prefix: /}, route: {cluster: none}}\n"
	return compileYAML(t, y)
}

func withHeaders(path string, kv ...string) Request {
	r := req("example.com", path)
	r.Headers = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Headers[kv[i]] = kv[i+1]
	}
	return r
}

func TestHeaderMatchers(t *testing.T) {
	r := headerRoutes(t, map[string]string{
		"presence":     `{name: x-a}`,
		"absent":       `{name: x-a, present_match: false}`,
		"notpresent":   `{name: x-a, present_match: true, invert_match: true}`,
		"exact":        `{name: X-Env, string_match: {exact: prod}}`,
		"exactci":      `{name: x-env, string_match: {exact: PROD, ignore_case: true}}`,
		"prefix":       `{name: x-v, string_match: {prefix: v1.}}`,
		"suffix":       `{name: x-v, string_match: {suffix: -beta}}`,
		"contains":     `{name: x-v, string_match: {contains: RC, ignore_case: true}}`,
		"regex":        `{name: x-user, string_match: {safe_regex: {regex: "user-[0-9]+"}}}`,
		"invert":       `{name: x-env, string_match: {exact: prod}, invert_match: true}`,
		"emptyok":      `{name: x-env, string_match: {exact: ""}, treat_missing_header_as_empty: true}`,
		"legacyexact":  `{name: x-env, exact_match: ""}`,
		"legacyregex":  `{name: x-env, safe_regex_match: {regex: "st.*"}}`,
		"legacyprefix": `{name: x-env, prefix_match: st}`,
		"range":        `{name: x-n, range_match: {start: 10, end: 20}}`,
		"method":       `{name: ":method", string_match: {exact: PUT}}`,
		"authority":    `{name: ":authority", string_match: {suffix: .example.com}}`,
		"pathhdr":      `{name: ":path", string_match: {contains: "debug=1"}}`,
		"scheme":       `{name: ":scheme", string_match: {exact: https}}`,
	})
	put := withHeaders("/method")
	put.Method = "PUT"
	sub := withHeaders("/authority")
	sub.Authority = "a.example.com"
	tls := withHeaders("/scheme")
	tls.Scheme = "https"
	cases := []struct {
		name string
		req  Request
		want string
	}{
		{"presence with value", withHeaders("/presence", "x-a", ""), "presence"},
		{"presence missing", withHeaders("/presence"), "none"},
		{"present_match false, missing", withHeaders("/absent"), "absent"},
		{"present_match false, present", withHeaders("/absent", "x-a", "1"), "none"},
		{"inverted presence, missing", withHeaders("/notpresent"), "notpresent"},
		{"name is lower-cased", withHeaders("/exact", "x-env", "prod"), "exact"},
		{"exact is case-sensitive", withHeaders("/exact", "x-env", "PROD"), "none"},
		{"exact ignore_case", withHeaders("/exactci", "x-env", "prod"), "exactci"},
		{"prefix", withHeaders("/prefix", "x-v", "v1.2"), "prefix"},
		{"suffix", withHeaders("/suffix", "x-v", "2-beta"), "suffix"},
		{"contains ignore_case", withHeaders("/contains", "x-v", "1.0-rc1"), "contains"},
		{"regex full match", withHeaders("/regex", "x-user", "user-12"), "regex"},
		{"regex partial is no match", withHeaders("/regex", "x-user", "user-12x"), "none"},
		{"invert other value", withHeaders("/invert", "x-env", "dev"), "invert"},
		{"invert same value", withHeaders("/invert", "x-env", "prod"), "none"},
		{"invert never matches a missing header", withHeaders("/invert"), "none"},
		{"treat missing as empty", withHeaders("/emptyok"), "emptyok"},
		{"legacy exact_match empty matches any value", withHeaders("/legacyexact", "x-env", "any"), "legacyexact"},
		{"legacy exact_match needs the header", withHeaders("/legacyexact"), "none"},
		{"legacy safe_regex_match", withHeaders("/legacyregex", "x-env", "staging"), "legacyregex"},
		{"legacy prefix_match", withHeaders("/legacyprefix", "x-env", "staging"), "legacyprefix"},
		{"range in", withHeaders("/range", "x-n", "19"), "range"},
		{"range end exclusive", withHeaders("/range", "x-n", "20"), "none"},
		{"range not a number", withHeaders("/range", "x-n", "1a"), "none"},
		{":method", put, "method"},
		{":method other", withHeaders("/method"), "none"},
		{":authority", sub, "authority"},
		{":path includes the query", withHeaders("/pathhdr?debug=1"), "pathhdr"},
		{":scheme", tls, "scheme"},
		{":scheme defaults to http", withHeaders("/scheme"), "none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Route(tc.req).Cluster; got != tc.want {
				t.Errorf("cluster = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHeadersAreANDed(t *testing.T) {
	r := headerRoutes(t, map[string]string{
		"both": `{name: x-a, string_match: {exact: "1"}}, {name: x-b, string_match: {exact: "2"}}`,
	})
	if got := r.Route(withHeaders("/both", "x-a", "1")).Cluster; got != "none" {
		t.Errorf("one of two headers: cluster %q, want none", got)
	}
	if got := r.Route(withHeaders("/both", "x-a", "1", "x-b", "2")).Cluster; got != "both" {
		t.Errorf("both headers: cluster %q, want both", got)
	}
}

func TestQueryParameters(t *testing.T) {
	r := compileYAML(t, `
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - {match: {prefix: /p, query_parameters: [{name: debug}]}, route: {cluster: present}}
  - {match: {prefix: /np, query_parameters: [{name: debug, present_match: false}]}, route: {cluster: notpresent}}
  - {match: {prefix: /e, query_parameters: [{name: v, string_match: {exact: "a b"}}]}, route: {cluster: exact}}
  - {match: {prefix: /r, query_parameters: [{name: v, string_match: {safe_regex: {regex: "[0-9]+"}}}]}, route: {cluster: regex}}
  - match: {prefix: /two, query_parameters: [{name: a, present_match: true}, {name: b, string_match: {prefix: x}}]}
    route: {cluster: two}
  - {match: {prefix: /}, route: {cluster: none}}`)
	cases := []struct{ path, want string }{
		{"/p?debug", "present"},
		{"/p?debug=", "present"},
		{"/p?x=1&debug=0", "present"},
		{"/p?debugx=1", "none"},
		{"/p", "none"},
		{"/np?other=1", "notpresent"},
		{"/np?debug=1", "none"},
		{"/e?v=a%20b", "none"}, // values are not percent-decoded
		{"/e?v=a b", "exact"},
		{"/r?v=12&v=x", "regex"}, // only the first value counts
		{"/r?v=x&v=12", "none"},
		{"/two?a&b=xy", "two"},
		{"/two?b=xy", "none"},
	}
	for _, tc := range cases {
		if got := r.Route(req("h", tc.path)).Cluster; got != tc.want {
			t.Errorf("%s: cluster %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestRuntimeFraction(t *testing.T) {
	r := compileYAML(t, `
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - match: {prefix: /, runtime_fraction: {runtime_key: canary, default_value: {numerator: 25, denominator: HUNDRED}}}
    route: {cluster: canary}
  - match: {prefix: /, runtime_fraction: {default_value: {numerator: 5000, denominator: TEN_THOUSAND}}}
    route: {cluster: half}
  - {match: {prefix: /}, route: {cluster: stable}}`)
	for _, tc := range []struct {
		random uint64
		want   string
	}{{0, "canary"}, {24, "canary"}, {25, "half"}, {124, "canary"}, {199, "half"}, {9999, "stable"}, {10024, "canary"}} {
		rq := req("h", "/")
		rq.Random = tc.random
		if got := r.Route(rq).Cluster; got != tc.want {
			t.Errorf("random %d: cluster %q, want %q", tc.random, got, tc.want)
		}
	}
}

func TestGrpcMatch(t *testing.T) {
	r := compileYAML(t, `
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - {match: {prefix: /, grpc: {}}, route: {cluster: grpc}}
  - {match: {prefix: /}, route: {cluster: http}}`)
	for ct, want := range map[string]string{
		"application/grpc": "grpc", "application/grpc+proto": "grpc", "application/grpc-web": "http",
		"application/json": "http", "": "http",
	} {
		if got := r.Route(withHeaders("/", "content-type", ct)).Cluster; got != want {
			t.Errorf("content-type %q: cluster %q, want %q", ct, got, want)
		}
	}
}
