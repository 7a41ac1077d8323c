package session

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestChunkNames(t *testing.T) {
	base := "__Host-kfgate-session"
	for i := range maxChunks {
		name := chunkName(base, i)
		if got, ok := chunkIndex(base, name); !ok || got != i {
			t.Errorf("chunkIndex(%q) = %d, %v; want %d", name, got, ok, i)
		}
	}
	if chunkName(base, 0) != base || chunkName(base, 1) != base+"-1" || chunkName(base, 7) != base+"-7" {
		t.Error("chunk names are not base, base-1, ...")
	}
	for _, name := range []string{
		base + "-0", base + "-8", base + "-01", base + "-10", base + "-", base + "-a", base + "1",
		"kfgate-session", "kfgate-session-1", strings.ToLower(base), base + " ", "x" + base,
	} {
		if _, ok := chunkIndex(base, name); ok {
			t.Errorf("chunkIndex(%q) claims it", name)
		}
	}
}

func TestOwns(t *testing.T) {
	for _, secure := range []bool{true, false} {
		st := testCookieStore(t, newClock(t0), Options{Secure: secure, CookieName: "sso"})
		name := "sso"
		if secure {
			name = "__Host-sso"
		}
		for _, owned := range []string{name, name + "-1", name + "-7"} {
			if !st.Owns(owned) {
				t.Errorf("secure=%v: Owns(%q) = false", secure, owned)
			}
		}
		for _, other := range []string{"sso-session", name + "-8", name + "-x", "SSO", "_oauth2_proxy", ""} {
			if st.Owns(other) {
				t.Errorf("secure=%v: Owns(%q) = true", secure, other)
			}
		}
	}
}

// checkAttributes asserts the attributes every session cookie must carry.
func checkAttributes(t *testing.T, c *http.Cookie, secure bool) {
	t.Helper()
	line := c.String()
	if c.Path != "/" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != secure || c.Domain != "" {
		t.Errorf("cookie %s: Path=%q HttpOnly=%v SameSite=%v Secure=%v Domain=%q", c.Name, c.Path, c.HttpOnly, c.SameSite, c.Secure, c.Domain)
	}
	for _, attr := range []string{"; Path=/", "; HttpOnly", "; SameSite=Lax"} {
		if !strings.Contains(line, attr) {
			t.Errorf("Set-Cookie %.60q... lacks %s", line, attr)
		}
	}
	if strings.Contains(line, "Domain=") || strings.Contains(line, "; Secure") != secure {
		t.Errorf("Set-Cookie %.60q...: wrong Domain/Secure", line)
	}
	if secure && !strings.HasPrefix(c.Name, "__Host-") {
		t.Errorf("secure cookie %s lacks the __Host- prefix", c.Name)
	}
	if len(line) > 4096 {
		t.Errorf("Set-Cookie for %s is %d bytes, more than 4096", c.Name, len(line))
	}
}

// Max-Age must be whole seconds until Created+AbsoluteTimeout, rounded down, and Expires the
// same instant: a value in nanoseconds (or rounded up) would keep the cookie past the timeout.
func TestCookieLifetime(t *testing.T) {
	c := newClock(t0)
	for _, secure := range []bool{true, false} {
		st := testCookieStore(t, c, Options{Secure: secure})
		s := testSession(t, t0.Add(-time.Hour-500*time.Millisecond), 1)
		s.LastSeen = t0
		set, err := st.Save(t.Context(), s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(set) != 1 {
			t.Fatalf("%d cookies for a small session", len(set))
		}
		ck := set[0]
		checkAttributes(t, ck, secure)
		// 12h - 1h0.5s = 10h59m59.5s: 39599 whole seconds.
		if ck.MaxAge != 39599 {
			t.Errorf("MaxAge = %d, want 39599", ck.MaxAge)
		}
		if want := t0.Add(39599 * time.Second); !ck.Expires.Equal(want) {
			t.Errorf("Expires = %v, want %v", ck.Expires, want)
		}
		if !ck.Expires.After(t0) || ck.Expires.After(s.Created.Add(12*time.Hour)) {
			t.Errorf("Expires %v is not before the absolute timeout", ck.Expires)
		}
		line := ck.String()
		if !strings.Contains(line, "; Max-Age=39599") {
			t.Errorf("Set-Cookie %q lacks Max-Age=39599", line)
		}
		// net/http formats Expires in whole seconds; t0 has 0.535s, so the header says :05.
		if want := "; Expires=" + t0.Add(39599*time.Second).Format(http.TimeFormat); !strings.Contains(line, want) {
			t.Errorf("Set-Cookie %q lacks %q", line, want)
		}
	}
}

func TestCookieLifetimeLastSecond(t *testing.T) {
	c := newClock(t0)
	st := testCookieStore(t, c, Options{})
	s := testSession(t, t0.Add(-12*time.Hour+999*time.Millisecond), 1)
	s.LastSeen = t0
	if _, err := st.Save(t.Context(), s, nil); err == nil {
		t.Fatal("Save with under a second left set a cookie (Max-Age 0 deletes it)")
	}
	s.Created = t0.Add(-12*time.Hour + time.Second)
	set, err := st.Save(t.Context(), s, nil)
	if err != nil || set[0].MaxAge != 1 {
		t.Fatalf("one second left: %v, %v", set, err)
	}
}

func TestClearCookie(t *testing.T) {
	for _, secure := range []bool{true, false} {
		o, _ := Options{Secure: secure}.withDefaults()
		c := o.clearCookie(o.cookieName() + "-2")
		checkAttributes(t, c, secure)
		line := c.String()
		if c.MaxAge != -1 || !strings.Contains(line, "; Max-Age=0") || !strings.Contains(line, "Expires=Thu, 01 Jan 1970 00:00:00 GMT") {
			t.Errorf("clearing cookie %q", line)
		}
		if c.Name != o.cookieName()+"-2" || c.Value != "" {
			t.Errorf("clearing cookie %s=%q", c.Name, c.Value)
		}
	}
}
