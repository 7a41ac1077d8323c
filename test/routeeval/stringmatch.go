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

// stringMatcher mirrors Matchers::StringMatcherImpl (matchers.cc): exact, prefix, suffix and
// contains compare bytes, ignoring ASCII case when ignore_case is set (absl::EqualsIgnoreCase,
// StartsWithIgnoreCase, ...); safe_regex is an RE2 full match, and combining it with ignore_case is
// a configuration error ("ignore_case has no effect for safe_regex.").
type stringMatcher struct {
	kind       stringKind
	value      string
	ignoreCase bool
	re         *fullRegex
}

func compileStringMatcher(m *matcherv3.StringMatcher, path string) (stringMatcher, error) {
	sm := stringMatcher{ignoreCase: m.GetIgnoreCase()}
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

func (s stringMatcher) match(v string) bool {
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
