package authn

import (
	"regexp"
	"strings"
)

// splitPath cuts Envoy's :path into the path and the query; a fragment (which no client should
// send, and which Envoy may pass on) is dropped with the query: it is never part of the path.
func splitPath(raw string) (path, query string) {
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		raw = raw[:i]
	}
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		return raw[:i], raw[i+1:]
	}
	return raw, ""
}

// canonical reports whether a path is one that every reasonable HTTP stack reads the same way: absolute,
// no empty or dot segments, no backslash or control character, and no percent-escape that decodes
// to a character with a meaning in paths (unreserved characters, '/', '\'). Only canonical paths may
// skip authentication: for any other form, Envoy, kfgate and the upstream app could each see a
// different path, which is how skip rules get bypassed (/dex/..%2fapi, /dex/%2e%2e/api, //api).
func canonical(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c < 0x21 || c == 0x7f || c == '\\':
			return false
		case c == '/' && i > 0 && p[i-1] == '/':
			return false
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return false
			}
			if b := unhex(p[i+1])<<4 | unhex(p[i+2]); b == '/' || b == '\\' || unreserved(b) {
				return false
			}
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func unreserved(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("-._~", b) >= 0
}

// skipMatcher is a compiled skip-auth rule.
type skipMatcher struct {
	method, exact, prefix string
	re                    *regexp.Regexp
}

func compileSkip(rules []SkipRule) []skipMatcher {
	out := make([]skipMatcher, 0, len(rules))
	for _, r := range rules {
		m := skipMatcher{method: r.Method, exact: r.Exact, prefix: r.Prefix}
		if r.Regex != "" {
			m.re = regexp.MustCompile(`^(?:` + r.Regex + `)$`) // validated at load time
		}
		out = append(out, m)
	}
	return out
}

// skips reports whether a request skips authentication: the method matches and the path, which must
// be canonical, matches. The query and fragment never take part (a regex over path and query let
// "/public?x=/private" through in a peer).
func skips(rules []skipMatcher, method, path string) bool {
	if !canonical(path) {
		return false
	}
	for _, r := range rules {
		if r.method != "" && r.method != method {
			continue
		}
		switch {
		case r.re != nil:
			if r.re.MatchString(path) {
				return true
			}
		case r.exact != "":
			if path == r.exact {
				return true
			}
		case strings.HasPrefix(path, r.prefix):
			return true
		}
	}
	return false
}
