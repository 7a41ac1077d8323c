package routeeval

import (
	"fmt"
	"strings"

	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

type stringKind int

const (
	strExact stringKind = iota
	strPrefix
	strSuffix
	strContains
	strRegex
)

// StringMatcher is a compiled envoy.type.matcher.v3.StringMatcher, Matchers::StringMatcherImpl (matchers.cc): exact, prefix, suffix and
// contains compare bytes, ignoring ASCII case when ignore_case is set (absl::EqualsIgnoreCase,
// StartsWithIgnoreCase, ...); safe_regex is an RE2 full match, and combining it with ignore_case is
// a configuration error ("ignore_case has no effect for safe_regex.").
type StringMatcher struct {
	kind       stringKind
	value      string
	ignoreCase bool
	re         *fullRegex
}

// CompileStringMatcher compiles m; path names it in errors.
func CompileStringMatcher(m *matcherv3.StringMatcher, path string) (StringMatcher, error) {
	sm := StringMatcher{ignoreCase: m.GetIgnoreCase()}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		sm.kind, sm.value = strExact, p.Exact
	case *matcherv3.StringMatcher_Prefix:
		sm.kind, sm.value = strPrefix, p.Prefix
	case *matcherv3.StringMatcher_Suffix:
		sm.kind, sm.value = strSuffix, p.Suffix
	case *matcherv3.StringMatcher_Contains:
		sm.kind, sm.value = strContains, p.Contains
	case *matcherv3.StringMatcher_SafeRegex:
		if sm.ignoreCase {
			return sm, fmt.Errorf("routeeval: %s: ignore_case has no effect for safe_regex", path)
		}
		re, err := compileRegex(p.SafeRegex, path+".safe_regex")
		if err != nil {
			return sm, err
		}
		sm.kind, sm.re = strRegex, re
	default:
		return sm, fmt.Errorf("routeeval: %s: string matcher without a pattern", path)
	}
	return sm, nil
}

// Match reports whether v matches.
func (s StringMatcher) Match(v string) bool {
	if s.kind == strRegex {
		return s.re.match(v)
	}
	want := s.value
	if s.ignoreCase {
		v, want = asciiLower(v), asciiLower(want)
	}
	switch s.kind {
	case strExact:
		return v == want
	case strPrefix:
		return strings.HasPrefix(v, want)
	case strSuffix:
		return strings.HasSuffix(v, want)
	default:
		return strings.Contains(v, want)
	}
}

// ExactValue is the configured value of an exact matcher (as configured, whatever ignore_case),
// for callers that give exact matchers a meaning of their own (a certificate's wildcard DNS SANs).
func (s StringMatcher) ExactValue() (string, bool) {
	return s.value, s.kind == strExact
}

// StringMatchers is a list of matchers, as configuration lists of them mean: any may match.
type StringMatchers []StringMatcher

// CompileStringMatchers compiles ms; path names the list in errors.
func CompileStringMatchers(ms []*matcherv3.StringMatcher, path string) (StringMatchers, error) {
	var out StringMatchers
	for i, m := range ms {
		sm, err := CompileStringMatcher(m, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, sm)
	}
	return out, nil
}

// MatchAny reports whether any matcher matches v.
func (ms StringMatchers) MatchAny(v string) bool {
	for _, m := range ms {
		if m.Match(v) {
			return true
		}
	}
	return false
}

// asciiLower lower-cases ASCII letters only, as absl::AsciiStrToLower and Envoy's
// LowerCaseString do; other bytes are unchanged (unlike strings.ToLower).
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
