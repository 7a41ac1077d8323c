package authn

import (
	"net/url"
	"strings"
	"testing"
)

// The open-redirect table: each payload, used as the path a login starts from, must come back as
// a same-host path. Several are the forms behind oauth2-proxy's CVEs (authn.md).
func TestSafeReturnRejectsOpenRedirects(t *testing.T) {
	payloads := []string{
		"//evil.com",                       // protocol-relative
		"//evil.com/path",                  //
		"///evil.com",                      //
		"/\\evil.com",                      // browsers read \ as /
		"/\\/evil.com",                     //
		"\\\\evil.com",                     //
		"/%09/evil.com",                    // CVE-2020-11053: tab, ignored by browsers
		"/%0a/evil.com",                    // CVE-2020-11053: newline
		"/%0d/evil.com",                    // carriage return
		"/%2f/evil.com",                    // encoded slash: //evil.com after decoding
		"/%2F%2Fevil.com",                  //
		"/%5cevil.com",                     // encoded backslash
		"/%5C%5Cevil.com",                  //
		"/\t/evil.com",                     // raw tab
		"/\n/evil.com",                     // raw newline
		"https://evil.com",                 // absolute URL
		"http:evil.com",                    // scheme without slashes
		"javascript:alert(1)",              // script URL
		"evil.com",                         // not a path
		"/%00/evil.com",                    // NUL
		"/%E2%80%A8/evil.com",              // (allowed: no control byte) checked separately below
		"/ /evil.com",                      // space
		"//evil.com@example.com",           // userinfo trick
		"/.evil.com/%2e%2e/%2f/evil.com",   // dot segments with encoded slash
		"/%252f%252fevil.com",              // double encoding is fine: stays a path (checked below)
		"",                                 // empty
		strings.Repeat("/a", maxReturnLen), // too long
	}
	for _, p := range payloads {
		got := safeReturn(p)
		if !sameHostPath(got) {
			t.Errorf("safeReturn(%q) = %q: a browser could leave the host", p, got)
		}
	}
	// The clearly hostile ones collapse to "/".
	for _, p := range payloads[:20] {
		if got := safeReturn(p); got != "/" {
			t.Errorf("safeReturn(%q) = %q, want /", p, got)
		}
	}
}

func TestSafeReturnKeepsOrdinaryPaths(t *testing.T) {
	for in, want := range map[string]string{
		"/":                              "/",
		"/jupyter/":                      "/jupyter/",
		"/pipeline/#/runs":               "/pipeline/",
		"/models/mnist/?x=1&y=%2F":       "/models/mnist/?x=1&y=%2F",
		"/notebook/ns/nb/lab?reset":      "/notebook/ns/nb/lab?reset",
		"/a%20b":                         "/a%20b",
		"/_/centraldashboard/?ns=user-a": "/_/centraldashboard/?ns=user-a",
	} {
		if got := safeReturn(in); got != want {
			t.Errorf("safeReturn(%q) = %q, want %q", in, got, want)
		}
	}
}

// sameHostPath is the property: the value, resolved against a page on example.com the way a
// browser resolves Location (after dropping tabs and newlines, reading \ as /), stays on example.com.
func sameHostPath(loc string) bool {
	if !strings.HasPrefix(loc, "/") {
		return false
	}
	clean := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(loc)
	base, _ := url.Parse("https://example.com/authservice/oidc/callback")
	u, err := url.Parse(clean)
	if err != nil {
		return false
	}
	return base.ResolveReference(u).Host == "example.com" && !strings.HasPrefix(clean, "//")
}

func FuzzSafeReturn(f *testing.F) {
	for _, s := range []string{"/", "//evil.com", "/\\evil", "/%09/evil", "/ok?q=1", "/%2f%2fevil", "https://x", "/a#b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := safeReturn(in)
		if !sameHostPath(got) {
			t.Fatalf("safeReturn(%q) = %q leaves the host", in, got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] < 0x21 || got[i] == 0x7f {
				t.Fatalf("safeReturn(%q) = %q has a control character", in, got)
			}
		}
		if safeReturn(got) != got {
			t.Fatalf("safeReturn is not idempotent on %q", got)
		}
	})
}
