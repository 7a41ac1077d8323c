package routeeval

import (
	"fmt"
	"regexp"
	"strings"

	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// fullRegex is a compiled RE2 pattern that must match the whole input, as Envoy's
// CompiledGoogleReMatcher::match does (RE2::FullMatch, source/common/common/regex.cc).
// Go's regexp implements RE2 syntax, so the pattern compiles the same way.
type fullRegex struct {
	whole *regexp.Regexp // anchored \A(?:pattern)\z, for full matches
	any   *regexp.Regexp // unanchored, for replaceAll (regex_rewrite)
}

func compileRegex(m *matcherv3.RegexMatcher, path string) (*fullRegex, error) {
	if m == nil {
		return nil, fmt.Errorf("routeeval: %s: missing regex", path)
	}
	return compilePattern(m.GetRegex(), path)
}

func compilePattern(pattern, path string) (*fullRegex, error) {
	anyMatch, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("routeeval: %s: invalid regex %q: %w", path, pattern, err)
	}
	// A valid pattern stays valid inside a group, so this cannot fail.
	return &fullRegex{whole: regexp.MustCompile(`\A(?:` + pattern + `)\z`), any: anyMatch}, nil
}

func (r *fullRegex) match(s string) bool { return r.whole.MatchString(s) }

// substitution is a regex_rewrite: pattern plus an RE2 rewrite string translated to Go's
// template syntax. Envoy applies it with RE2::GlobalReplace (regex.cc replaceAll), replacing
// every non-overlapping match, like Go's ReplaceAllString.
type substitution struct {
	re       *fullRegex
	template string
}

func compileSubstitution(m *matcherv3.RegexMatchAndSubstitute, path string) (*substitution, error) {
	re, err := compileRegex(m.GetPattern(), path+".pattern")
	if err != nil {
		return nil, err
	}
	tmpl, err := translateRewrite(m.GetSubstitution(), re.any.NumSubexp())
	if err != nil {
		return nil, fmt.Errorf("routeeval: %s.substitution: %w", path, err)
	}
	return &substitution{re: re, template: tmpl}, nil
}

func (s *substitution) replaceAll(in string) string {
	return s.re.any.ReplaceAllString(in, s.template)
}

// translateRewrite turns an RE2 rewrite string (\0..\9 back-references, \\ for a backslash) into a
// Go template (${N}, $$ for a dollar). RE2 rejects any other escape and references to groups the
// pattern lacks (RE2::CheckRewriteString); so does this function.
func translateRewrite(rewrite string, groups int) (string, error) {
	var b strings.Builder
	for i := 0; i < len(rewrite); i++ {
		c := rewrite[i]
		switch {
		case c == '$':
			b.WriteString("$$")
		case c != '\\':
			b.WriteByte(c)
		case i+1 == len(rewrite):
			return "", fmt.Errorf("rewrite %q ends with a lone backslash", rewrite)
		case rewrite[i+1] == '\\':
			b.WriteByte('\\')
			i++
		case rewrite[i+1] >= '0' && rewrite[i+1] <= '9':
			n := int(rewrite[i+1] - '0')
			if n > groups {
				return "", fmt.Errorf("rewrite %q references group \\%d but the pattern has %d", rewrite, n, groups)
			}
			fmt.Fprintf(&b, "${%d}", n)
			i++
		default:
			return "", fmt.Errorf("rewrite %q has invalid escape \\%c", rewrite, rewrite[i+1])
		}
	}
	return b.String(), nil
}
