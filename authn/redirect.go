package authn

import (
	"net/url"
	"strings"
)

// maxReturnLen caps the remembered return path: it travels in a cookie.
const maxReturnLen = 2048

// safeReturn turns the path and query a login started from into where the callback may send the
// browser back: a path on the same host, never a URL a browser could read as another host. Anything
// doubtful becomes "/". The forms rejected here are those behind oauth2-proxy's open-redirect CVEs:
// "//evil", "/\evil", "/%09/evil", "/%0a/evil", a scheme, and control characters anywhere.
func safeReturn(raw string) string {
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		raw = raw[:i]
	}
	if len(raw) == 0 || len(raw) > maxReturnLen || raw[0] != '/' {
		return "/"
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c < 0x21 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		return "/"
	}
	for i := 0; i < len(decoded); i++ {
		if c := decoded[i]; c < 0x20 || c == 0x7f {
			return "/"
		}
	}
	// Browsers ignore tabs and newlines and read "\" as "/", so judge the start after both.
	if strings.HasPrefix(decoded, "//") || strings.HasPrefix(decoded, "/\\") {
		return "/"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	return raw
}
