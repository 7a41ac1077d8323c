package routeeval

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

const mutationConfig = `
%s
request_headers_to_add: [{header: {key: x-level, value: rc}, append: false}]
request_headers_to_remove: [x-drop-rc]
response_headers_to_add: [{header: {key: x-resp, value: rc}}]
virtual_hosts:
- name: vh
  domains: ["*"]
  request_headers_to_add: [{header: {key: x-level, value: vh}, append: false}, {header: {key: X-Vh, value: "1"}}]
  request_headers_to_remove: [x-drop-vh]
  response_headers_to_remove: [x-resp]
  routes:
  - match: {prefix: /}
    route: {cluster: c, prefix_rewrite: /r/, host_rewrite_literal: up.internal, append_x_forwarded_host: true}
    request_headers_to_add:
    - {header: {key: x-level, value: route}, append: false}
    - {header: {key: x-drop-rc, value: "added by route, removed by route config"}}
    - {header: {key: x-client, value: "%%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%%/%%%%"}}
    - {header: {key: x-existing, value: appended}}
    - {header: {key: x-absent-only, value: new}, append_action: ADD_IF_ABSENT}
    - {header: {key: x-overwrite-only, value: new}, append_action: OVERWRITE_IF_EXISTS}
    - {header: {key: x-empty, value: ""}}
    - {header: {key: x-kept-empty, value: ""}, keep_empty_value: true}
    response_headers_to_add: [{header: {key: x-resp, value: route}}]
`

func mutationRequest() Request {
	q := withHeaders("/a?q", "x-existing", "orig", "x-absent-only", "orig", "x-drop-vh", "1", "x-forwarded-host", "h")
	q.Authority, q.RemoteAddress = "h", "10.0.0.7:5555"
	return q
}

func TestHeaderMutationOrder(t *testing.T) {
	r := compileYAML(t, fmt.Sprintf(mutationConfig, ""))
	d := r.Route(mutationRequest())
	var levels []Level
	for _, m := range d.RequestHeaderMutations {
		levels = append(levels, m.Level)
	}
	if want := []Level{LevelRoute, LevelVirtualHost, LevelRouteConfiguration}; !slices.Equal(levels, want) {
		t.Fatalf("levels %v, want %v", levels, want)
	}
	if want := []string{"x-drop-vh", "x-drop-rc"}; !slices.Equal(d.RequestHeadersToRemove, want) {
		t.Errorf("RequestHeadersToRemove %v, want %v", d.RequestHeadersToRemove, want)
	}
	first := d.RequestHeadersToAdd[0]
	if first.Key != "x-level" || first.Value != "route" || first.AppendAction != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
		t.Errorf("first addition %+v", first)
	}
	if got := d.RequestHeadersToAdd[2].Value; got != "10.0.0.7/%" {
		t.Errorf("formatted value %q", got)
	}
	got := FinalRequestHeaders(mutationRequest(), d)
	want := map[string]string{
		":authority": "up.internal", ":path": "/r/a?q", ":method": "GET", ":scheme": "http",
		"x-forwarded-proto": "http", "x-envoy-original-path": "/a?q", "x-forwarded-host": "h",
		"x-level": "rc", "x-vh": "1", "x-client": "10.0.0.7/%", "x-existing": "orig,appended",
		"x-absent-only": "orig", "x-kept-empty": "",
	}
	if !maps.Equal(got, want) {
		t.Errorf("final headers\n got %v\nwant %v", got, want)
	}
	resp := d.ApplyResponse(map[string]string{"x-resp": "upstream"})
	if !maps.Equal(resp, map[string]string{"x-resp": "rc"}) {
		t.Errorf("response headers %v", resp)
	}
}

func TestMostSpecificHeaderMutationsWins(t *testing.T) {
	r := compileYAML(t, fmt.Sprintf(mutationConfig, "most_specific_header_mutations_wins: true"))
	d := r.Route(mutationRequest())
	if d.RequestHeaderMutations[0].Level != LevelRouteConfiguration {
		t.Fatalf("first level %v", d.RequestHeaderMutations[0].Level)
	}
	got := FinalRequestHeaders(mutationRequest(), d)
	if got["x-level"] != "route" || got["x-drop-rc"] != "added by route, removed by route config" {
		t.Errorf("x-level %q x-drop-rc %q", got["x-level"], got["x-drop-rc"])
	}
	if resp := d.ApplyResponse(nil); resp["x-resp"] != "route" {
		t.Errorf("response x-resp %q", resp["x-resp"])
	}
}

func TestApplyAppendXForwardedHostIdempotent(t *testing.T) {
	r := compileYAML(t, fmt.Sprintf(mutationConfig, ""))
	q := mutationRequest()
	q.Headers["x-forwarded-host"] = "a,b"
	if got := FinalRequestHeaders(q, r.Route(q))["x-forwarded-host"]; got != "a,b,h" {
		t.Errorf("x-forwarded-host %q", got)
	}
}

func TestInternalOnlyHeaders(t *testing.T) {
	r := compileYAML(t, `
internal_only_headers: [X-Internal-User]
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - {match: {prefix: /, headers: [{name: x-internal-user}]}, route: {cluster: internal}}
  - {match: {prefix: /}, route: {cluster: public}}`)
	ext := withHeaders("/", "x-internal-user", "alice")
	d := r.Route(ext)
	if d.Cluster != "public" || FinalRequestHeaders(ext, d)["x-internal-user"] != "" {
		t.Errorf("external: cluster %q, headers %v", d.Cluster, FinalRequestHeaders(ext, d))
	}
	in := withHeaders("/", "x-internal-user", "alice", "x-envoy-internal", "true")
	if d := r.Route(in); d.Cluster != "internal" || FinalRequestHeaders(in, d)["x-internal-user"] != "alice" {
		t.Errorf("internal: cluster %q", d.Cluster)
	}
}

func TestTypedPerFilterConfigMerge(t *testing.T) {
	anyOf := func(v string) string {
		return `{"@type": type.googleapis.com/google.protobuf.StringValue, value: ` + v + `}`
	}
	r := compileYAML(t, `
typed_per_filter_config: {a: `+anyOf("rc")+`, b: `+anyOf("rc")+`, c: `+anyOf("rc")+`}
virtual_hosts:
- name: vh
  domains: ["*"]
  typed_per_filter_config: {b: `+anyOf("vh")+`, c: `+anyOf("vh")+`}
  routes:
  - {match: {prefix: /r}, route: {cluster: c}, typed_per_filter_config: {c: `+anyOf("route")+`}}
  - {match: {prefix: /}, route: {cluster: c}}`)
	check := func(path string, want map[string]string) {
		t.Helper()
		got := map[string]string{}
		for k, v := range r.Route(req("h", path)).TypedPerFilterConfig {
			got[k] = string(v.GetValue()[2:]) // StringValue wire format: tag, length, bytes
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s: per-filter %v, want %v", path, got, want)
		}
	}
	check("/r", map[string]string{"a": "rc", "b": "vh", "c": "route"})
	check("/", map[string]string{"a": "rc", "b": "vh", "c": "vh"})
}
