package authn

import "testing"

func TestCanonical(t *testing.T) {
	for p, want := range map[string]bool{
		"/":               true,
		"/dex/":           true,
		"/dex/auth?x=1":   true, // callers pass the path only; '?' is just a byte here
		"/a%20b":          true,
		"":                false,
		"dex":             false,
		"//dex/":          false,
		"/dex//x":         false,
		"/dex/../api":     false,
		"/dex/./x":        false,
		"/dex/..":         false,
		"/dex/%2e%2e/api": false,
		"/dex/%2E./api":   false,
		"/dex%2fapi":      false,
		"/dex%2Fapi":      false,
		"/dex%5capi":      false,
		"/dex\\api":       false,
		"/de%78/":         false, // an escaped unreserved character reads differently to different stacks
		"/dex/%":          false,
		"/dex/%zz":        false,
		"/dex/\x00":       false,
		"/dex/ x":         false,
	} {
		if got := canonical(p); got != want {
			t.Errorf("canonical(%q) = %v, want %v", p, got, want)
		}
	}
}

// Skip-auth bypass attempts: each request must NOT skip authentication under the default rule
// (/dex/) plus an exact and a regex rule.
func TestSkipAuthBypassAttempts(t *testing.T) {
	rules := compileSkip([]SkipRule{{Prefix: "/dex/"}, {Method: "GET", Exact: "/healthz"}, {Regex: `/public/[a-z]+\.css`}})
	skipped := []struct{ method, rawPath string }{
		{"GET", "/dex/auth"},
		{"POST", "/dex/token"},
		{"GET", "/healthz"},
		{"GET", "/healthz?x=1"},
		{"GET", "/public/site.css"},
	}
	for _, c := range skipped {
		path, _ := splitPath(c.rawPath)
		if !skips(rules, c.method, path) {
			t.Errorf("%s %s should skip auth", c.method, c.rawPath)
		}
	}
	bypasses := []struct{ method, rawPath string }{
		{"GET", "/api/secret?next=/dex/"},     // skip rule in the query (GHSA-7rh7-c77v-6434)
		{"GET", "/api/secret#/dex/"},          // in the fragment (GHSA-pxq7-h93f-9jrg)
		{"GET", "/api/secret?/healthz"},       //
		{"GET", "/dex/../api/secret"},         // dot segments
		{"GET", "/dex/%2e%2e/api/secret"},     // encoded dot segments
		{"GET", "/dex/..%2fapi/secret"},       // encoded slash
		{"GET", "/dex%2f../api"},              //
		{"GET", "/dex/..\\api"},               // backslash
		{"GET", "//dex/"},                     // empty segment
		{"GET", "/DEX/"},                      // case: paths are case-sensitive
		{"POST", "/healthz"},                  // method
		{"GET", "/healthz/"},                  // exact means exact
		{"GET", "/public/site.css/../../api"}, // regex is a full match on a canonical path
		{"GET", "/api/x?y=/public/site.css"},  //
		{"GET", "/public/site.cssx"},          //
		{"GET", "/xpublic/site.css"},          //
		{"GET", "/%64ex/"},                    // escaped unreserved
	}
	for _, c := range bypasses {
		path, _ := splitPath(c.rawPath)
		if skips(rules, c.method, path) {
			t.Errorf("%s %s skipped auth", c.method, c.rawPath)
		}
	}
}
