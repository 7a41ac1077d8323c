package routeeval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	yamlv3 "go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"
)

// routerCheckDir holds Envoy's own router_check_tool fixtures, unmodified (see SOURCE.md and
// NOTICE there). sharedRouterCheckDir is where the workplace keeps the originals; when present, the
// copy must equal it.
const (
	routerCheckDir       = "testdata/envoy-router-check"
	sharedRouterCheckDir = "../../../shared/conformance/envoy-router-check"
)

// skipped names fixtures ("Fixture") or cases ("Fixture/test_name") that are not run, and why.
// It is empty: every case runs. An entry needs a reason naming the construct kfgate never emits.
var skipped = map[string]string{}

type goldenFile struct {
	Tests []goldenCase `yaml:"tests"`
}

type goldenCase struct {
	Name  string `yaml:"test_name"`
	Input struct {
		Authority string `yaml:"authority"`
		Path      string `yaml:"path"`
		Method    string `yaml:"method"`
		Random    uint64 `yaml:"random_value"`
		SSL       bool   `yaml:"ssl"`
		Internal  bool   `yaml:"internal"`
		Runtime   string `yaml:"runtime"`
		Headers   []struct {
			Key   string `yaml:"key"`
			Value string `yaml:"value"`
		} `yaml:"additional_request_headers"`
	} `yaml:"input"`
	Validate map[string]any `yaml:"validate"`
}

type conformanceStats struct{ cases, ran, passed, skipped int }

func TestEnvoyRouterCheckFixtures(t *testing.T) {
	names, err := filepath.Glob(filepath.Join(routerCheckDir, "*.golden.proto.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures in %s: %v", routerCheckDir, err)
	}
	sort.Strings(names)
	var st conformanceStats
	for _, golden := range names {
		fixture := strings.TrimSuffix(filepath.Base(golden), ".golden.proto.json")
		t.Run(fixture, func(t *testing.T) { runFixture(t, fixture, &st) })
	}
	t.Logf("router_check conformance: %d cases in %d fixtures: ran %d, passed %d, skipped %d",
		st.cases, len(names), st.ran, st.passed, st.skipped)
	if st.ran+st.skipped != st.cases || st.ran == 0 {
		t.Errorf("ran %d + skipped %d != %d cases", st.ran, st.skipped, st.cases)
	}
}

func runFixture(t *testing.T, fixture string, st *conformanceStats) {
	cases := loadGolden(t, fixture)
	st.cases += len(cases)
	if reason, ok := skipped[fixture]; ok {
		st.skipped += len(cases)
		t.Skipf("skipped: %s", reason)
	}
	router, err := Compile(loadFixtureConfig(t, fixture))
	if err != nil {
		t.Fatalf("Compile rejected %s.yaml (add it to skipped with a reason if intended): %v", fixture, err)
	}
	for _, c := range cases {
		key := fixture + "/" + c.Name
		if reason, ok := skipped[key]; ok {
			st.skipped++
			t.Logf("%s skipped: %s", key, reason)
			continue
		}
		checked, failures := checkCase(t, router, c)
		st.ran++
		switch {
		case checked == 0:
			t.Errorf("%s: the golden case asserts nothing", key)
		case len(failures) == 0:
			st.passed++
		default:
			t.Errorf("%s:\n  %s", key, strings.Join(failures, "\n  "))
		}
	}
}

func loadGolden(t *testing.T, fixture string) []goldenCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(routerCheckDir, fixture+".golden.proto.json"))
	if err != nil {
		t.Fatal(err)
	}
	// A YAML parser, not encoding/json: TestRoutes' golden has a trailing comma. Unknown fields
	// fail, so an input or assertion the harness does not know is never silently dropped.
	var g goldenFile
	dec := yamlv3.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&g); err != nil {
		t.Fatalf("%s golden: %v", fixture, err)
	}
	return g.Tests
}

// loadFixtureConfig reads NAME.yaml into a RouteConfiguration; an unknown field fails the test
// (protojson), and Compile then fails on any known field the evaluator does not model.
func loadFixtureConfig(t *testing.T, fixture string) *routev3.RouteConfiguration {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(routerCheckDir, fixture+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := parseFixtureConfig(raw)
	if err != nil {
		t.Fatalf("%s.yaml: %v", fixture, err)
	}
	return rc
}

// parseRouteConfig reads YAML (or JSON) into a RouteConfiguration via protojson.
func parseRouteConfig(raw []byte) (*routev3.RouteConfiguration, error) {
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, err
	}
	rc := &routev3.RouteConfiguration{}
	return rc, protojson.Unmarshal(js, rc)
}

// parseFixtureConfig is parseRouteConfig after rewriting Durations written as objects
// ({seconds: 30}), which Envoy's loader accepts but protojson does not, to "30s".
func parseFixtureConfig(raw []byte) (*routev3.RouteConfiguration, error) {
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	js, err := json.Marshal(normalizeDurations(doc))
	if err != nil {
		return nil, err
	}
	return parseRouteConfig(js)
}

// normalizeDurations turns every object whose only keys are seconds and/or nanos into a
// protojson Duration string. In a RouteConfiguration only Durations have exactly those fields.
func normalizeDurations(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if d, ok := objectDuration(x); ok {
			return d
		}
		for k, e := range x {
			x[k] = normalizeDurations(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeDurations(e)
		}
	}
	return v
}

func objectDuration(m map[string]any) (string, bool) {
	if len(m) == 0 {
		return "", false
	}
	var secs, nanos float64
	for k, v := range m {
		n, ok := v.(float64)
		switch {
		case !ok:
			return "", false
		case k == "seconds":
			secs = n
		case k == "nanos":
			nanos = n
		default:
			return "", false
		}
	}
	return (time.Duration(secs)*time.Second + time.Duration(nanos)).String(), true
}

// routerCheckRuntime is router_check's mock runtime (router.cc in test/tools/router_check): a
// runtime_fraction is on only under the key the test names in input.runtime, and then only when
// random_value % denominator < numerator. Every other key is off, whatever its default.
type routerCheckRuntime struct{ enabled string }

func (r routerCheckRuntime) FeatureEnabled(key string, def *typev3.FractionalPercent, random uint64) bool {
	return key != "" && key == r.enabled && EmptyRuntime{}.FeatureEnabled(key, def, random)
}

func fixtureRequest(c goldenCase) Request {
	in := c.Input
	req := Request{Authority: in.Authority, Path: in.Path, Method: in.Method, Scheme: "http",
		Random: in.Random, RemoteAddress: "127.0.0.1:0", Headers: map[string]string{},
		Runtime: routerCheckRuntime{enabled: in.Runtime}}
	if in.SSL {
		req.Scheme = "https"
	}
	// router_check sets x-forwarded-proto from ssl and x-envoy-internal from internal.
	req.Headers["x-forwarded-proto"] = req.Scheme
	if in.Internal {
		req.Headers["x-envoy-internal"] = "true"
	}
	for _, h := range in.Headers {
		k := strings.ToLower(h.Key)
		if old, ok := req.Headers[k]; ok {
			req.Headers[k] = old + "," + h.Value
		} else {
			req.Headers[k] = h.Value
		}
	}
	return req
}

// checkCase runs one request and compares every modelled assertion the way router_check does:
// cluster, virtual host, path and host rewrites only exist for forwarded routes; path_redirect and
// code_redirect for redirects and direct responses; "" / 0 mean "no value".
func checkCase(t *testing.T, router *Router, c goldenCase) (checked int, failures []string) {
	req := fixtureRequest(c)
	d := router.Route(req)
	keys := make([]string, 0, len(c.Validate))
	for k := range c.Validate {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		checked++
		if msg := checkAssertion(t, k, c.Validate[k], req, d); msg != "" {
			failures = append(failures, msg)
		}
	}
	return checked, failures
}

func checkAssertion(t *testing.T, key string, want any, req Request, d Decision) string {
	switch key {
	case "request_header_matches":
		return checkHeaderMatches(t, key, want, requestHeadersSeen(req, d))
	case "response_header_matches":
		return checkHeaderMatches(t, key, want, responseHeadersSeen(d))
	}
	got, err := actualValue(key, req, d)
	if err != nil {
		return err.Error()
	}
	if key == "timeout" {
		if w, err := time.ParseDuration(fmt.Sprint(want)); err == nil {
			want = w.String()
		}
	}
	if fmt.Sprint(want) != got {
		return fmt.Sprintf("%s: want %q, got %q", key, fmt.Sprint(want), got)
	}
	return ""
}

func actualValue(key string, req Request, d Decision) (string, error) {
	fwd := d.IsForward()
	final := d.Apply(req)
	switch key {
	case "cluster_name":
		return ifForward(fwd, d.Cluster), nil
	case "virtual_cluster_name":
		if !d.Matched {
			return "", nil
		}
		return d.VirtualCluster, nil
	case "virtual_host_name":
		return ifForward(fwd, d.VirtualHost), nil
	case "path_rewrite":
		return ifForward(fwd, final.Path), nil
	case "host_rewrite":
		return ifForward(fwd, final.Authority), nil
	case "path_redirect":
		return redirectURL(d), nil
	case "code_redirect":
		return strconv.Itoa(redirectCodeOf(d)), nil
	case "timeout":
		if !fwd {
			return "", nil
		}
		if d.Timeout == nil {
			return (15 * time.Second).String(), nil // DEFAULT_ROUTE_TIMEOUT_MS (CI)
		}
		return d.Timeout.String(), nil
	}
	return "", fmt.Errorf("assertion %q is not handled by the conformance test", key)
}

func ifForward(fwd bool, v string) string {
	if fwd {
		return v
	}
	return ""
}

func redirectURL(d Decision) string {
	switch {
	case d.Redirect != nil:
		return d.Redirect.Location
	case d.DirectResponse != nil:
		return d.DirectResponse.URI
	}
	return ""
}

func redirectCodeOf(d Decision) int {
	switch {
	case d.Redirect != nil:
		return d.Redirect.Code
	case d.DirectResponse != nil:
		return d.DirectResponse.Status
	}
	return 0
}

func requestHeadersSeen(req Request, d Decision) map[string]string {
	if d.IsForward() {
		return FinalRequestHeaders(req, d)
	}
	return req.HeaderMap()
}

// responseHeadersSeen emulates the response headers router_check checks: for a direct response, a
// local reply with content-type text/plain and content-length when the body is not empty, then the
// route's response header mutations (this is the tool's order, matching its goldens).
func responseHeadersSeen(d Decision) map[string]string {
	base := map[string]string{}
	if d.DirectResponse != nil {
		base[":status"] = strconv.Itoa(d.DirectResponse.Status)
		if d.DirectResponse.Body != "" {
			base["content-type"] = "text/plain"
			base["content-length"] = strconv.Itoa(len(d.DirectResponse.Body))
		}
	}
	return d.ApplyResponse(base)
}

// checkHeaderMatches applies golden HeaderMatchers with the evaluator's own HeaderMatcher.
func checkHeaderMatches(t *testing.T, key string, want any, headers map[string]string) string {
	list, ok := want.([]any)
	if !ok {
		return fmt.Sprintf("%s: not a list: %v", key, want)
	}
	get := func(name string) (string, bool) { v, ok := headers[name]; return v, ok }
	var bad []string
	for i, item := range list {
		js, err := json.Marshal(item)
		if err != nil {
			t.Fatal(err)
		}
		hm := &routev3.HeaderMatcher{}
		if err := protojson.Unmarshal(js, hm); err != nil {
			return fmt.Sprintf("%s[%d]: %v", key, i, err)
		}
		m, err := compileHeaderMatcher(hm, key)
		if err != nil {
			return err.Error()
		}
		if !m.match(get) {
			bad = append(bad, string(js))
		}
	}
	if len(bad) > 0 {
		return fmt.Sprintf("%s: no match for %s in %v", key, strings.Join(bad, ", "), headers)
	}
	return ""
}

// TestConformanceHarnessDetectsMismatch guards the harness itself: a wrong golden must fail.
func TestConformanceHarnessDetectsMismatch(t *testing.T) {
	r := compileYAML(t, oneRoute(`{match: {prefix: /}, route: {cluster: real, host_rewrite_literal: up}}`))
	var c goldenCase
	c.Input.Authority, c.Input.Path, c.Input.Method = "h", "/", "GET"
	c.Validate = map[string]any{
		"cluster_name": "wrong", "host_rewrite": "up", "virtual_cluster_name": "",
		"request_header_matches": []any{map[string]any{"name": ":authority", "string_match": map[string]any{"exact": "h"}}},
	}
	checked, failures := checkCase(t, r, c)
	if checked != 4 || len(failures) != 2 {
		t.Errorf("checked %d, failures %q; want 4 checked, 2 failures (cluster_name, :authority)", checked, failures)
	}
}

// TestRouterCheckFixturesAreUnmodified keeps the copy in testdata byte-for-byte equal to the
// workplace's originals when those are present (they are not in a fresh clone, where the copy is
// all there is).
func TestRouterCheckFixturesAreUnmodified(t *testing.T) {
	orig, err := os.ReadDir(sharedRouterCheckDir)
	if err != nil {
		t.Skipf("originals not present at %s: %v", sharedRouterCheckDir, err)
	}
	for _, e := range orig {
		want, err := os.ReadFile(filepath.Join(sharedRouterCheckDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(routerCheckDir, e.Name()))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (copy it again): %v", filepath.Join(routerCheckDir, e.Name()), sharedRouterCheckDir, err)
		}
	}
}
