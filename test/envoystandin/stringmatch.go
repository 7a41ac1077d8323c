package envoystandin

import (
	"fmt"
	"regexp"
	"strings"

	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// stringMatcher is a compiled envoy.type.matcher.v3.StringMatcher (source/common/common/matchers.cc).
type stringMatcher struct {
	kind, value string
	ignoreCase  bool
	re          *regexp.Regexp
}

func compileStringMatcher(m *matcherv3.StringMatcher, path string) (stringMatcher, error) {
	sm := stringMatcher{ignoreCase: m.GetIgnoreCase()}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		sm.kind, sm.value = "exact", p.Exact
	case *matcherv3.StringMatcher_Prefix:
		sm.kind, sm.value = "prefix", p.Prefix
	case *matcherv3.StringMatcher_Suffix:
		sm.kind, sm.value = "suffix", p.Suffix
	case *matcherv3.StringMatcher_Contains:
		sm.kind, sm.value = "contains", p.Contains
	case *matcherv3.StringMatcher_SafeRegex:
		// RE2 (Envoy's engine) and Go's regexp share a syntax; a safe_regex matches the whole value.
		re, err := regexp.Compile("^(?:" + p.SafeRegex.GetRegex() + ")$")
		if err != nil {
			return sm, fmt.Errorf("%s.safe_regex: %w", path, err)
		}
		sm.kind, sm.re = "regex", re
	default:
		return sm, fmt.Errorf("%s: no match pattern", path)
	}
	if sm.ignoreCase {
		sm.value = strings.ToLower(sm.value)
	}
	return sm, nil
}

func (m stringMatcher) match(s string) bool {
	if m.re != nil {
		return m.re.MatchString(s)
	}
	if m.ignoreCase {
		s = strings.ToLower(s)
	}
	switch m.kind {
	case "exact":
		return s == m.value
	case "prefix":
		return strings.HasPrefix(s, m.value)
	case "suffix":
		return strings.HasSuffix(s, m.value)
	default:
		return strings.Contains(s, m.value)
	}
}

type stringMatchers []stringMatcher

func compileStringMatchers(ms []*matcherv3.StringMatcher, path string) (stringMatchers, error) {
	var out stringMatchers
	for i, m := range ms {
		sm, err := compileStringMatcher(m, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, sm)
	}
	return out, nil
}

func (ms stringMatchers) any(s string) bool {
	for _, m := range ms {
		if m.match(s) {
			return true
		}
	}
	return false
}
