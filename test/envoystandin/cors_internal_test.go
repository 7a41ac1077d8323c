package envoystandin

import (
	"strings"
	"testing"

	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// String matchers are Envoy's: ignore_case folds ASCII only (the Kelvin sign U+212A is not "k"), and
// ignore_case with safe_regex is a configuration error.
func TestStringMatchersAreEnvoys(t *testing.T) {
	exact := &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "K"}, IgnoreCase: true}
	p, err := compileCorsPolicy(&corsv3.CorsPolicy{AllowOriginStringMatch: []*matcherv3.StringMatcher{exact}}, "cors")
	if err != nil {
		t.Fatal(err)
	}
	if !p.origins.MatchAny("k") || p.origins.MatchAny("\u212a") {
		t.Errorf(`exact "K" with ignore_case: matches "k" %v (want true), U+212A %v (want false)`,
			p.origins.MatchAny("k"), p.origins.MatchAny("\u212a"))
	}
	re := &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "a.*"}},
		IgnoreCase: true}
	_, err = compileCorsPolicy(&corsv3.CorsPolicy{AllowOriginStringMatch: []*matcherv3.StringMatcher{re}}, "cors")
	if err == nil || !strings.Contains(err.Error(), "cors.allow_origin_string_match[0]: ignore_case has no effect for safe_regex") {
		t.Errorf("safe_regex with ignore_case: %v; want refused", err)
	}
}
