package routeeval

import (
	"strings"
	"testing"
)

// oneRoute wraps a route (YAML flow mapping) in a configuration with one virtual host.
func oneRoute(route string) string {
	return "virtual_hosts:\n- {name: vh, domains: [\"*\"], routes: [" + route + "]}\n"
}

func TestCompileRejects(t *testing.T) {
	cases := []struct{ name, config, wantErr string }{
		{"hedge_policy", `
virtual_hosts:
- name: vh
  domains: ["*"]
  routes: [{match: {prefix: /}, route: {cluster: c}}]
  hedge_policy: {hedge_on_per_try_timeout: true}`,
			"virtual_hosts[0].hedge_policy (envoy.config.route.v3.VirtualHost.hedge_policy) is not modelled"},
		{"cluster_specifier_plugin", oneRoute(`{match: {prefix: /}, route: {cluster_specifier_plugin: p}}`),
			"virtual_hosts[0].routes[0].route.cluster_specifier_plugin"},
		{"virtual cluster header matcher", `
virtual_hosts:
- name: vh
  domains: ["*"]
  routes: [{match: {prefix: /}, route: {cluster: c}}]
  virtual_clusters: [{name: vc, headers: [{name: ":path", string_match: {safe_regex: {regex: "("}}}]}]`,
			"invalid regex"},
		{"route metadata", oneRoute(`{match: {prefix: /}, route: {cluster: c}, metadata: {filter_metadata: {a: {b: c}}}}`),
			"routes[0].metadata"},
		{"tls_context match", oneRoute(`{match: {prefix: /, tls_context: {presented: true}}, route: {cluster: c}}`),
			"match.tls_context"},
		{"string_match custom", oneRoute(`{match: {prefix: /, headers: [{name: a, string_match: {custom: {name: x, typed_config: {"@type": type.googleapis.com/google.protobuf.Empty}}}}]}, route: {cluster: c}}`),
			"string_match.custom"},
		{"regex max_program_size", oneRoute(`{match: {safe_regex: {regex: "/x", google_re2: {max_program_size: 10}}}, route: {cluster: c}}`),
			"google_re2.max_program_size"},
		{"weighted cluster headers", oneRoute(`{match: {prefix: /}, route: {weighted_clusters: {clusters: [{name: a, weight: 1, request_headers_to_add: [{header: {key: k, value: v}}]}]}}}`),
			"clusters[0].request_headers_to_add"},
		{"mirror cluster_header", oneRoute(`{match: {prefix: /}, route: {cluster: c, request_mirror_policies: [{cluster_header: x}]}}`),
			"request_mirror_policies[0].cluster_header"},
		{"direct response file", oneRoute(`{match: {prefix: /}, direct_response: {status: 200, body: {filename: /etc/passwd}}}`),
			"body.filename"},
		{"duplicate domains", `
virtual_hosts:
- {name: a, domains: [example.com], routes: [{match: {prefix: /}, route: {cluster: a}}]}
- {name: b, domains: [EXAMPLE.com], routes: [{match: {prefix: /}, route: {cluster: b}}]}`,
			`duplicate domain "example.com"`},
		{"duplicate wildcard suffix", `
virtual_hosts:
- {name: a, domains: ["*.x.com", "*.x.com"], routes: [{match: {prefix: /}, route: {cluster: a}}]}`,
			`duplicate domain "*.x.com"`},
		{"two default hosts", `
virtual_hosts:
- {name: a, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
- {name: b, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: b}}]}`,
			"only a single wildcard domain"},
		{"prefix and regex rewrite", oneRoute(`{match: {prefix: /}, route: {cluster: c, prefix_rewrite: /a, regex_rewrite: {pattern: {regex: a}, substitution: b}}}`),
			"only one of prefix_rewrite, regex_rewrite"},
		{"invalid regex", oneRoute(`{match: {safe_regex: {regex: "("}}, route: {cluster: c}}`), "invalid regex"},
		{"ignore_case with safe_regex", oneRoute(`{match: {prefix: /, headers: [{name: a, string_match: {safe_regex: {regex: x}, ignore_case: true}}]}, route: {cluster: c}}`), "ignore_case has no effect"},
		{"regex unbalanced group", oneRoute(`{match: {safe_regex: {regex: "a)(b"}}, route: {cluster: c}}`), "invalid regex"},
		{"rewrite references a missing group", oneRoute(`{match: {prefix: /}, route: {cluster: c, regex_rewrite: {pattern: {regex: "(a)"}, substitution: "\\2"}}}`),
			"references group"},
		{"unmodelled formatter", oneRoute(`{match: {prefix: /}, route: {cluster: c}, request_headers_to_add: [{header: {key: x, value: "%REQ(x-a)%"}}]}`),
			"%REQ(x-a)% is not modelled"},
		{"pseudo-header addition", oneRoute(`{match: {prefix: /}, route: {cluster: c}, request_headers_to_add: [{header: {key: ":path", value: /x}}]}`),
			"may not be modified"},
		{"host removal", oneRoute(`{match: {prefix: /}, route: {cluster: c}, request_headers_to_remove: [Host]}`),
			"may not be removed"},
		{"append with append_action", oneRoute(`{match: {prefix: /}, route: {cluster: c}, response_headers_to_add: [{header: {key: x, value: v}, append: true, append_action: ADD_IF_ABSENT}]}`),
			"both append and append_action"},
		{"zero total weight", oneRoute(`{match: {prefix: /}, route: {weighted_clusters: {clusters: [{name: a, weight: 0}]}}}`),
			"must be greater than 0"},
		{"missing weight", oneRoute(`{match: {prefix: /}, route: {weighted_clusters: {clusters: [{name: a}]}}}`),
			"'weight' is missing"},
		{"duplicate upgrade", oneRoute(`{match: {prefix: /}, route: {cluster: c, upgrade_configs: [{upgrade_type: websocket}, {upgrade_type: WebSocket}]}}`),
			"duplicate upgrade"},
		{"direct response body too large", "max_direct_response_body_size_bytes: 3\n" +
			oneRoute(`{match: {prefix: /}, direct_response: {status: 200, body: {inline_string: toolong}}}`), "exceeds"},
		{"proto validation", oneRoute(`{match: {prefix: /}, direct_response: {status: 99}}`), "invalid RouteConfiguration"},
		{"no action", oneRoute(`{match: {prefix: /}}`), "invalid RouteConfiguration"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(rcFromYAML(t, tc.config))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Compile error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestCompileAcceptsModelledFields(t *testing.T) {
	compileYAML(t, `
name: full
validate_clusters: false
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - name: r
    match:
      prefix: /
      case_sensitive: true
      headers: [{name: a, safe_regex_match: {google_re2: {}, regex: "x"}}]
      query_parameters: [{name: q, string_match: {exact: v, ignore_case: true}}]
    route:
      cluster: c
      auto_host_rewrite: true
      cors: {allow_origin_string_match: [{prefix: "https://"}]}
      retry_policy: {retry_on: "5xx", per_try_timeout: 1s}
      hash_policy: [{cookie: {name: s, ttl: 1s}}]`)
}

func TestCompileNil(t *testing.T) {
	if _, err := Compile(nil); err == nil {
		t.Error("Compile(nil) succeeded")
	}
}

func TestTranslateRewrite(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`/\1/x`, `/${1}/x`},
		{`\0-\\-$1`, `${0}-\-$$1`},
		{`plain`, `plain`},
	} {
		got, err := translateRewrite(tc.in, 1)
		if err != nil || got != tc.want {
			t.Errorf("translateRewrite(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`\2`, `\q`, `trailing\`} {
		if _, err := translateRewrite(bad, 1); err == nil {
			t.Errorf("translateRewrite(%q) accepted", bad)
		}
	}
}

// Every allowlist entry names a real field: a typo would refuse a field without saying why.
func TestAllowlistNamesRealFields(t *testing.T) {
	if err := allowed.Verify(); err != nil {
		t.Error(err)
	}
}
