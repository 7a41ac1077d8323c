package authn

import (
	"net/http"
	"slices"
	"strings"
)

// protectedName folds a header name the way the peers that got smuggled did not: case and '_'
// against '-' (CVE-2025-64484: X_Forwarded_User reached apps that read X-Forwarded-User).
func protectedName(h string) string {
	return strings.ReplaceAll(strings.ToLower(h), "_", "-")
}

// hygiene is what every allowed request loses before it goes upstream, whoever it is.
type hygiene struct {
	// remove are request headers to delete: every spelling of the identity headers the client sent,
	// except a canonical one kfgate overwrites.
	remove []string
	// cookie is the Cookie header without kfgate's own cookies; cookieChanged says it must be set
	// (or removed, when empty).
	cookie        string
	cookieChanged bool
}

// spellings returns every spelling of a lower-case header name with '_' for any of its '-' (at
// most 64). kfgate removes them all whether or not Check saw them: with allowed_headers set on the
// ext_authz filter, Envoy does not send every header to Check.
func spellings(name string) []string {
	out := []string{name}
	for i := 0; i < len(name) && len(out) < 64; i++ {
		if name[i] != '-' {
			continue
		}
		for _, s := range out[:len(out):len(out)] {
			out = append(out, s[:i]+"_"+s[i+1:])
		}
	}
	return out
}

// identityHeaders are the header names (lower case) clients must never supply, each with all its
// spellings, worked out once from the configuration.
type identityHeaders struct {
	names     []string
	spellings [][]string
}

func newIdentityHeaders(names ...string) identityHeaders {
	h := identityHeaders{names: names}
	for _, n := range names {
		h.spellings = append(h.spellings, spellings(n))
	}
	return h
}

// cleanRequest works out the hygiene for r. keep are the names kfgate sets itself on this response
// (their canonical spelling is overwritten, so removing it would undo the set: Envoy applies
// removals after sets); owns says whether a cookie is kfgate's.
func cleanRequest(r *Request, protected identityHeaders, keep map[string]bool, owns func(string) bool) hygiene {
	var h hygiene
	for i, p := range protected.names {
		for _, s := range protected.spellings[i] {
			if !keep[p] || s != p {
				h.remove = append(h.remove, s)
			}
		}
	}
	// Envoy sends header names in lower case; a caller that does not may send any case.
	for name := range r.Headers {
		if name != strings.ToLower(name) && slices.Contains(protected.names, protectedName(name)) {
			h.remove = append(h.remove, name)
		}
	}
	raw := r.Header("cookie")
	if raw == "" {
		return h
	}
	var kept []string
	for _, part := range strings.Split(raw, ";") {
		part = strings.TrimSpace(part)
		name, _, _ := strings.Cut(part, "=")
		if owns(strings.TrimSpace(name)) {
			h.cookieChanged = true
			continue
		}
		if part != "" {
			kept = append(kept, part)
		}
	}
	h.cookie = strings.Join(kept, "; ")
	return h
}

// requestCookies parses the Cookie header. Only ';' separates cookies: browsers allow ',' inside a
// value, so a sibling subdomain could set "pref=a,__Host-kfgate-session=..." and, if ',' counted,
// plant a session cookie that __Host- is meant to keep out. (Envoy joins HTTP/2 and HTTP/3 cookie
// crumbs with "; ".)
func requestCookies(raw string) []*http.Cookie {
	if raw == "" {
		return nil
	}
	cs, err := http.ParseCookie(raw)
	if err == nil {
		return cs
	}
	// One malformed pair must not hide the others.
	var out []*http.Cookie
	for _, part := range strings.Split(raw, ";") {
		if c, err := http.ParseCookie(strings.TrimSpace(part)); err == nil {
			out = append(out, c...)
		}
	}
	return out
}
