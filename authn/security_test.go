package authn_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kfgate/kfgate/authn"
	"github.com/kfgate/kfgate/authn/session"
	"github.com/kfgate/kfgate/test/oidcprovider"
)

// startFlow begins a login and returns the authorization URL and the flow cookie's name.
func (b *browser) startFlow(path string) (string, string) {
	b.w.t.Helper()
	loc := location(b.w.t, b.get(path), http.StatusFound)
	u, _ := url.Parse(loc)
	return loc, "__Host-kfgate-flow-" + u.Query().Get("state")[:16]
}

// editFlow rewrites a field of a flow cookie, sealing it again with the real key: what an attacker
// who could forge cookies would do, to prove the other checks hold on their own.
func (b *browser) editFlow(name, field, value string) {
	b.w.t.Helper()
	keys, err := session.LoadKeyFiles(b.w.cfg.Session.KeyFiles, nil)
	if err != nil {
		b.w.t.Fatal(err)
	}
	plain, err := keys.Open(name, b.jar[name].Value)
	if err != nil {
		b.w.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(plain, &m); err != nil {
		b.w.t.Fatal(err)
	}
	m[field] = value
	plain, _ = json.Marshal(m)
	sealed, err := keys.Seal(name, plain)
	if err != nil {
		b.w.t.Fatal(err)
	}
	b.jar[name].Value = sealed
}

func TestCallbackStateChecks(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{}, nil)

	t.Run("replayed", func(t *testing.T) {
		b := w.browser()
		loc, flow := b.startFlow("/")
		cb := b.idpLogin(loc, user)
		saved := *b.jar[flow]
		location(t, b.get(cb.RequestURI()), http.StatusFound)
		b.jar[flow] = &saved // the attacker kept the cookie too
		if s := status(b.get(cb.RequestURI())); s != http.StatusBadRequest {
			t.Fatalf("replayed callback: %d, want 400", s)
		}
	})
	t.Run("missing state", func(t *testing.T) {
		b := w.browser()
		loc, _ := b.startFlow("/")
		cb := b.idpLogin(loc, user)
		q := cb.Query()
		q.Del("state")
		if s := status(b.get(cb.Path + "?" + q.Encode())); s != http.StatusBadRequest {
			t.Fatalf("no state: %d, want 400", s)
		}
	})
	t.Run("state of another browser", func(t *testing.T) {
		victim, attacker := w.browser(), w.browser()
		loc, _ := attacker.startFlow("/")
		cb := attacker.idpLogin(loc, user)
		victim.startFlow("/") // the victim has a flow of its own
		if s := status(victim.get(cb.RequestURI())); s != http.StatusBadRequest {
			t.Fatalf("login CSRF: %d, want 400", s)
		}
		if _, ok := victim.cookies()["__Host-kfgate-session"]; ok {
			t.Fatal("the victim got the attacker's session")
		}
	})
	t.Run("tampered flow cookie", func(t *testing.T) {
		b := w.browser()
		loc, flow := b.startFlow("/")
		cb := b.idpLogin(loc, user)
		v := []byte(b.jar[flow].Value)
		v[len(v)/2] ^= 1
		b.jar[flow].Value = string(v)
		if s := status(b.get(cb.RequestURI())); s != http.StatusBadRequest {
			t.Fatalf("tampered flow cookie: %d, want 400", s)
		}
	})
	// A flow cookie rewritten with the real key (as if cookies could be forged): the other checks hold
	// on their own. A wrong nonce fails at kfgate, a wrong or missing verifier at the provider.
	for _, c := range []struct{ name, field, value string }{
		{"wrong nonce", "n", "another-nonce-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"wrong PKCE verifier", "v", strings.Repeat("A", 43)},
		{"missing PKCE verifier", "v", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := w.browser()
			loc, flow := b.startFlow("/")
			cb := b.idpLogin(loc, user)
			b.editFlow(flow, c.field, c.value)
			if s := status(b.get(cb.RequestURI())); s != http.StatusForbidden {
				t.Fatalf("%s: %d, want 403", c.name, s)
			}
		})
	}
	t.Run("missing PKCE challenge", func(t *testing.T) {
		b := w.browser()
		loc, _ := b.startFlow("/")
		u, _ := url.Parse(loc)
		q := u.Query()
		q.Del("code_challenge")
		q.Del("code_challenge_method")
		u.RawQuery = q.Encode()
		cb := b.idpLogin(u.String(), user) // the provider refuses: error=invalid_request
		if cb.Query().Get("error") == "" {
			t.Fatalf("the provider accepted a login without PKCE: %s", cb)
		}
		if s := status(b.get(cb.RequestURI())); s != http.StatusForbidden {
			t.Fatalf("callback with the provider's error: %d, want 403", s)
		}
	})
	t.Run("issuer mix-up", func(t *testing.T) {
		b := w.browser()
		loc, _ := b.startFlow("/")
		cb := b.idpLogin(loc, user)
		q := cb.Query()
		q.Set("iss", "https://evil.example")
		if s := status(b.get(cb.Path + "?" + q.Encode())); s != http.StatusBadRequest {
			t.Fatalf("wrong iss: %d, want 400", s)
		}
	})
	t.Run("expired flow", func(t *testing.T) {
		b := w.browser()
		loc, _ := b.startFlow("/")
		cb := b.idpLogin(loc, user)
		w.clock.Advance(11 * time.Minute)
		defer w.clock.Advance(-11 * time.Minute)
		if s := status(b.get(cb.RequestURI())); s != http.StatusBadRequest {
			t.Fatalf("expired flow: %d, want 400", s)
		}
	})
}

func TestTwoTabsLogInAtOnce(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{}, nil)
	b := w.browser()
	loc1, _ := b.startFlow("/jupyter/")
	loc2, _ := b.startFlow("/pipeline/")
	cb1 := b.idpLogin(loc1, user)
	cb2 := b.idpLogin(loc2, user)
	// The second tab finishes first; both land where they started.
	if got := location(t, b.get(cb2.RequestURI()), http.StatusFound); got != "/pipeline/" {
		t.Fatalf("tab 2 lands on %q", got)
	}
	if got := location(t, b.get(cb1.RequestURI()), http.StatusFound); got != "/jupyter/" {
		t.Fatalf("tab 1 lands on %q", got)
	}
	if status(b.get("/")) != http.StatusOK {
		t.Fatal("no session after two tabs logged in")
	}
}

func TestStaleFlowCookiesAreCapped(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{}, func(c *authn.Config) { c.Login.LoopLimit = 50 })
	b := w.browser()
	for range 12 {
		b.startFlow("/")
	}
	n := 0
	for name := range b.cookies() {
		if strings.HasPrefix(name, "__Host-kfgate-flow-") {
			n++
		}
	}
	if n != w.cfg.Login.MaxFlows {
		t.Fatalf("%d flow cookies after 12 logins, want at most %d", n, w.cfg.Login.MaxFlows)
	}
}

// A login always makes a new session: a cookie planted before it is never the session after it.
func TestSessionFixation(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{}, nil)
	attacker := w.browser()
	location(t, attacker.login("/", user), http.StatusFound)
	planted := *attacker.jar["__Host-kfgate-session"]

	victim := w.browser()
	victim.jar[planted.Name] = &http.Cookie{Name: planted.Name, Value: "planted-" + planted.Value[:20]}
	start := victim.get("/")
	location(t, start, http.StatusFound)
	if c, ok := victim.cookies()[planted.Name]; ok {
		t.Fatalf("login start kept the planted cookie %q", c.Value)
	}
	cb := victim.idpLogin(deniedHeader(start, "location"), user)
	location(t, victim.get(cb.RequestURI()), http.StatusFound)
	if got := victim.cookies()[planted.Name].Value; got == planted.Value || strings.HasPrefix(got, "planted-") {
		t.Fatal("the session after login is the planted one")
	}
}

func TestSessionCookieTamperingAndTimeouts(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{}, nil)
	b := w.browser()
	location(t, b.login("/", user), http.StatusFound)
	good := b.jar["__Host-kfgate-session"].Value

	for i := 0; i < len(good); i += len(good) / 7 {
		v := []byte(good)
		v[i] ^= 0x01
		b.jar["__Host-kfgate-session"].Value = string(v)
		if s := status(b.check("GET", "/", map[string]string{"accept": "*/*"}, nil)); s != http.StatusUnauthorized {
			t.Fatalf("cookie flipped at byte %d: %d, want 401", i, s)
		}
		b.jar["__Host-kfgate-session"] = &http.Cookie{Name: "__Host-kfgate-session", Value: good}
	}
	b.jar["__Host-kfgate-session"].Value = good
	if status(b.get("/")) != http.StatusOK {
		t.Fatal("the untouched cookie no longer works")
	}

	t.Run("idle", func(t *testing.T) {
		w.clock.Advance(61 * time.Minute)
		defer w.clock.Advance(-61 * time.Minute)
		if s := status(b.check("GET", "/", map[string]string{"accept": "*/*"}, nil)); s != http.StatusUnauthorized {
			t.Fatalf("after the idle timeout: %d, want 401", s)
		}
	})
}

func TestAbsoluteTimeoutDespiteActivity(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{IDTokenTTL: 24 * time.Hour, AccessTokenTTL: 24 * time.Hour}, nil)
	b := w.browser()
	location(t, b.login("/", user), http.StatusFound)
	// Active every 50 minutes: the idle timeout never fires, the absolute one (12h) does.
	for i := 0; i < 15; i++ {
		w.clock.Advance(50 * time.Minute)
		s := status(b.check("GET", "/", map[string]string{"accept": "*/*"}, nil))
		elapsed := time.Duration(i+1) * 50 * time.Minute
		if elapsed < 12*time.Hour && s != http.StatusOK {
			t.Fatalf("after %s of activity: %d, want 200", elapsed, s)
		}
		if elapsed > 12*time.Hour && s != http.StatusUnauthorized {
			t.Fatalf("after %s: %d, want 401 (absolute timeout)", elapsed, s)
		}
	}
}

func TestKeyRotation(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{}, nil)
	b := w.browser()
	location(t, b.login("/", user), http.StatusFound)
	old := w.cfg.Session.KeyFiles[0]
	newer := writeFile(t, t.TempDir(), "new-key", newKey())

	// New key first, old one still listed: existing sessions open, new ones are sealed with the new key.
	cfg := w.cfg
	cfg.Session.KeyFiles = []string{newer, old}
	w2 := startServer(t, cfg, w.idp)
	b.w = w2
	if s := status(b.get("/")); s != http.StatusOK {
		t.Fatalf("session sealed with the previous key: %d, want 200", s)
	}
	// Old key retired: the session is gone.
	cfg.Session.KeyFiles = []string{newer}
	b.w = startServer(t, cfg, w.idp)
	if s := status(b.check("GET", "/", map[string]string{"accept": "*/*"}, nil)); s != http.StatusUnauthorized {
		t.Fatalf("session sealed with a retired key: %d, want 401", s)
	}
}

// The return path through a whole login: hostile starting paths land on "/".
func TestOpenRedirectThroughLogin(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{}, func(c *authn.Config) { c.Login.LoopLimit = 100; c.Login.Burst = 100 })
	for _, p := range []string{"//evil.com/", "/\\evil.com", "/%09/evil.com", "/%2f%2fevil.com", "/%5c%5cevil.com", "///evil.com"} {
		b := w.browser()
		got := location(t, b.login(p, user), http.StatusFound)
		if got != "/" {
			t.Errorf("login from %q lands on %q, want /", p, got)
		}
	}
}
