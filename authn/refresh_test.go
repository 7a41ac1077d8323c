package authn_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kfgate/kfgate/authn"
	"github.com/kfgate/kfgate/test/oidcprovider"
)

// The clock moves little here (the provider's own clock does not move): refreshBefore makes tokens
// due for refresh 30 s after they are issued.
func TestRefreshBeforeExpiry(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{IDTokenTTL: 10 * time.Minute, AccessTokenTTL: 10 * time.Minute}, func(c *authn.Config) {
		c.Session.RefreshBefore = 9*time.Minute + 30*time.Second
	})
	b := w.browser()
	location(t, b.login("/", user), http.StatusFound)
	before := b.jar["__Host-kfgate-session"].Value

	w.clock.Advance(31 * time.Second)
	// Parallel requests with the same old cookie: one refresh, every request passes.
	var wg sync.WaitGroup
	statuses := make([]int, 6)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = status(b.check("GET", "/", map[string]string{"accept": "*/*"}, nil))
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Fatalf("request %d during refresh: %d", i, s)
		}
	}
	if b.jar["__Host-kfgate-session"].Value == before {
		t.Fatal("no new session cookie after the refresh")
	}
	if n := w.metric(`kfgate_authn_refreshes_total{outcome="ok"}`); n != "1" {
		t.Fatalf("refreshes ok = %q, want exactly 1", n)
	}
	// The provider rotated the refresh token: the next refresh uses the new one.
	w.clock.Advance(31 * time.Second)
	resp := b.check("GET", "/", map[string]string{"accept": "*/*"}, nil)
	if up := upstream(t, b.sent, resp); up["kubeflow-userid"] != user.Email {
		t.Fatalf("identity after refresh %q", up["kubeflow-userid"])
	}
	if n := w.metric(`kfgate_authn_refreshes_total{outcome="ok"}`); n != "2" {
		t.Fatalf("refreshes ok = %q, want 2", n)
	}
}

// A refresh the provider refuses ends the session: the browser starts a login, an API client gets a 401.
func TestFailedRefreshStartsLogin(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{IDTokenTTL: 10 * time.Minute, AccessTokenTTL: 10 * time.Minute}, nil)
	b := w.browser()
	location(t, b.login("/", user), http.StatusFound)
	w.idp.Restart(t) // the provider forgets every refresh token
	w.clock.Advance(9*time.Minute + 30*time.Second)
	resp := b.get("/jupyter/")
	if loc := location(t, resp, http.StatusFound); !strings.HasPrefix(loc, w.idp.Issuer) {
		t.Fatalf("after a refused refresh: redirect to %q, want the provider", loc)
	}
	if _, ok := b.cookies()["__Host-kfgate-session"]; ok {
		t.Fatal("the session survived a refused refresh")
	}
}

// While the provider is down, sessions keep working (a refresh that cannot reach it keeps the
// session), and a login that cannot finish says so with a 503 instead of looping.
func TestProviderDown(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{IDTokenTTL: 10 * time.Minute, AccessTokenTTL: 10 * time.Minute},
		func(c *authn.Config) { c.OIDC.ProbeInterval = time.Second })
	b := w.browser()
	location(t, b.login("/", user), http.StatusFound)
	other := w.browser()
	loc, _ := other.startFlow("/")
	cb := other.idpLogin(loc, user)

	w.idp.Stop()
	// A new login is not sent to a provider that stopped answering: once a probe fails, a 503 page.
	eventually(t, 10*time.Second, "a probe finds the provider down", func() bool {
		return w.metric("kfgate_authn_idp_reachable") == "0"
	})
	newcomer := w.browser()
	if resp := newcomer.get("/"); status(resp) != http.StatusServiceUnavailable || !strings.Contains(resp.GetDeniedResponse().GetBody(), "cannot be reached") {
		t.Fatalf("new login while the provider is down: %d %q", status(resp), resp.GetDeniedResponse().GetBody())
	}
	if s := status(b.get("/")); s != http.StatusOK {
		t.Fatalf("valid session while the provider is down: %d", s)
	}
	w.clock.Advance(9*time.Minute + 30*time.Second)
	for range 3 {
		if s := status(b.get("/")); s != http.StatusOK {
			t.Fatalf("session due for refresh while the provider is down: %d", s)
		}
	}
	// Only the first request waited for the provider: the session backs off.
	if n := w.metric(`kfgate_authn_refreshes_total{outcome="idp_unavailable"}`); n != "1" {
		t.Fatalf("refresh attempts while the provider is down = %q, want 1", n)
	}
	resp := other.get(cb.RequestURI())
	if status(resp) != http.StatusServiceUnavailable || !strings.Contains(resp.GetDeniedResponse().GetBody(), "cannot be reached") {
		t.Fatalf("callback while the provider is down: %d %q", status(resp), resp.GetDeniedResponse().GetBody())
	}
	w.idp.Restart(t)
	eventually(t, 10*time.Second, "a probe finds the provider back", func() bool {
		return w.metric("kfgate_authn_idp_reachable") == "1"
	})
	if s := status(newcomer.get("/")); s != http.StatusFound {
		t.Fatalf("new login once the provider is back: %d", s)
	}
}

// eventually polls ok every 50 ms until it holds, failing the test after limit.
func eventually(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", limit, what)
		}
	}
}

func TestNotReadyUntilDiscovery(t *testing.T) {
	idp := oidcprovider.Start(t, oidcprovider.Options{Clients: []oidcprovider.Client{{ID: clientID, Secret: secret, RedirectURIs: []string{callbackURL}}}})
	idp.Stop()
	cfg := testConfig(t, idp.Issuer)
	w := &world{t: t, idp: idp, clock: &clock{}, cfg: cfg}
	startServerNoWait(t, w)
	b := w.browser()
	resp := b.get("/")
	if status(resp) != http.StatusServiceUnavailable || !strings.Contains(resp.GetDeniedResponse().GetBody(), "identity provider") {
		t.Fatalf("login before discovery: %d", status(resp))
	}
	if code := httpStatus(t, "http://"+w.http+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before discovery: %d", code)
	}
	if code := httpStatus(t, "http://"+w.http+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}
	idp.Restart(t)
	w.waitReady() // discovery retried with backoff
	if s := status(b.get("/")); s != http.StatusFound {
		t.Fatalf("login after discovery: %d", s)
	}
}

func TestLoginLoopAndRateLimit(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{}, nil)
	b := w.browser()
	for i := 0; i < w.cfg.Login.LoopLimit; i++ {
		location(t, b.get("/"), http.StatusFound)
	}
	resp := b.get("/")
	if status(resp) != http.StatusTooManyRequests || deniedHeader(resp, "location") != "" {
		t.Fatalf("login loop: %d, want 429 without a redirect", status(resp))
	}
	// A new browser from the same address is limited by the per-address bucket.
	for i := 0; ; i++ {
		fresh := w.browser()
		s := status(fresh.get("/"))
		if s == http.StatusTooManyRequests {
			if i+w.cfg.Login.LoopLimit < w.cfg.Login.Burst-1 {
				t.Fatalf("rate limited after %d logins, burst is %d", i+w.cfg.Login.LoopLimit, w.cfg.Login.Burst)
			}
			break
		}
		if i > 2*w.cfg.Login.Burst {
			t.Fatal("login starts from one address are not rate limited")
		}
	}
	other := w.browser()
	other.ip = "198.51.100.7"
	if s := status(other.get("/")); s != http.StatusFound {
		t.Fatalf("another address: %d, want a login redirect", s)
	}
}

func (w *world) metric(series string) string {
	w.t.Helper()
	resp, err := http.Get("http://" + w.http + "/metrics")
	if err != nil {
		w.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			return rest
		}
	}
	return ""
}

func httpStatus(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
