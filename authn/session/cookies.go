package session

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxChunks caps how many cookies one session may use. Browsers keep at least 50 cookies of 4096
// bytes per domain; eight leaves room for the applications behind kfgate and keeps the Cookie
// header (about 30 KB at most) well inside Envoy's 60 KiB request-header limit.
const maxChunks = 8

// chunkName is the name of chunk i of the cookie named base: base itself, then base-1, base-2...
func chunkName(base string, i int) string {
	if i == 0 {
		return base
	}
	return base + "-" + strconv.Itoa(i)
}

// chunkIndex is the inverse of chunkName: the chunk index name has under base, or false when
// name is no chunk of base. Only the exact spelling chunkName produces counts ("-01" does not),
// so every owned cookie has one index.
func chunkIndex(base, name string) (int, bool) {
	if name == base {
		return 0, true
	}
	digits, ok := strings.CutPrefix(name, base+"-")
	if !ok || len(digits) != 1 || digits[0] < '1' || digits[0] > '0'+maxChunks-1 {
		return 0, false
	}
	return int(digits[0] - '0'), true
}

// ownedCookies returns the values of the request's cookies that belong to the session named base,
// by chunk index. A name sent twice is an error: browsers send one cookie per name for kfgate's
// __Host- cookies, so a duplicate means a cookie set by something else (a sibling domain in
// development), and picking either would let it shadow the real one.
func ownedCookies(base string, cookies []*http.Cookie) (map[int]string, error) {
	var chunks map[int]string
	for _, c := range cookies {
		if c == nil {
			continue
		}
		i, ok := chunkIndex(base, c.Name)
		if !ok {
			continue
		}
		if chunks == nil {
			chunks = make(map[int]string, 1)
		}
		if _, dup := chunks[i]; dup {
			return nil, fmt.Errorf("%w: cookie %s sent more than once", ErrInvalid, c.Name)
		}
		chunks[i] = c.Value
	}
	return chunks, nil
}

// setCookie is a session cookie living until the absolute timeout of s: Max-Age is the whole
// seconds left, rounded down so the browser never keeps the cookie past the timeout, and Expires
// (for clients that ignore Max-Age) is the same instant.
func (o Options) setCookie(name, value string, s *Session, now time.Time) (*http.Cookie, error) {
	left := o.absoluteDeadline(s).Sub(now)
	maxAge := int64(left / time.Second)
	if maxAge <= 0 {
		// Max-Age=0 would delete the cookie: the session has under a second left, call it over.
		return nil, fmt.Errorf("%w: absolute timeout %v leaves less than a second", ErrExpired, o.AbsoluteTimeout)
	}
	return o.cookie(name, value, int(maxAge), now.Add(time.Duration(maxAge)*time.Second)), nil
}

// clearCookie deletes the cookie name: Max-Age=0 (MaxAge -1 in net/http) and an Expires in the
// past, with the same Path and Secure, which browsers require to match the cookie being replaced.
func (o Options) clearCookie(name string) *http.Cookie {
	return o.cookie(name, "", -1, time.Unix(0, 0))
}

func (o Options) cookie(name, value string, maxAge int, expires time.Time) *http.Cookie {
	return newCookie(name, value, o.Secure, maxAge, expires)
}

// NewCookie is a cookie of kfgate's (the session's, or the login flow's) living maxAge, rounded
// down to whole seconds; maxAge under a second clears the cookie.
func NewCookie(name, value string, secure bool, maxAge time.Duration, now time.Time) *http.Cookie {
	secs := int(maxAge / time.Second)
	if secs <= 0 {
		return newCookie(name, "", secure, -1, time.Unix(0, 0))
	}
	return newCookie(name, value, secure, secs, now.Add(time.Duration(secs)*time.Second))
}

// CookieName is name with the __Host- prefix when secure: browsers then insist on Secure, Path=/
// and no Domain, so a sibling subdomain cannot plant the cookie.
func CookieName(name string, secure bool) string {
	if secure {
		return hostPrefix + name
	}
	return name
}

// newCookie has the attributes every cookie of kfgate's carries. No Domain: __Host- forbids it, and
// host-only cookies are not sent to sibling subdomains. SameSite=Lax still sends the cookie on
// the top-level navigation back from the identity provider.
func newCookie(name, value string, secure bool, maxAge int, expires time.Time) *http.Cookie {
	//nolint:gosec // G124: Secure is Options.Secure, false only for plain-HTTP development
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Expires:  expires.UTC(),
		Secure:   secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// clearChunks returns cookies deleting every chunk of base present in the request from index
// from on, in index order, so a session that now needs fewer cookies leaves no stale ones behind.
func (o Options) clearChunks(base string, reqCookies []*http.Cookie, from int) []*http.Cookie {
	var present [maxChunks]bool
	for _, c := range reqCookies {
		if c == nil {
			continue
		}
		if i, ok := chunkIndex(base, c.Name); ok && i >= from {
			present[i] = true
		}
	}
	var out []*http.Cookie
	for i := from; i < maxChunks; i++ {
		if present[i] {
			out = append(out, o.clearCookie(chunkName(base, i)))
		}
	}
	return out
}
