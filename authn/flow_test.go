package authn_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kfgate/kfgate/authn"
	"github.com/kfgate/kfgate/test/oidcprovider"
)

var user = oidcprovider.DefaultUser

func TestLoginFlow(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{}, nil)
	b := w.browser()

	// A browser without a session is sent to the provider with state, nonce and PKCE S256.
	start := b.get("/jupyter/?ns=user-a&x=%2F")
	loc, err := url.Parse(location(t, start, http.StatusFound))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if !strings.HasPrefix(loc.String(), w.idp.Issuer) || q.Get("client_id") != clientID ||
		q.Get("redirect_uri") != callbackURL || q.Get("response_type") != "code" ||
		q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 ||
		len(q.Get("state")) < 43 || len(q.Get("nonce")) < 43 || !strings.Contains(q.Get("scope"), "openid") {
		t.Fatalf("authorization URL %s", loc)
	}
	flows := 0
	for name, c := range b.cookies() {
		if strings.HasPrefix(name, "__Host-kfgate-flow-") {
			flows++
			if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
				t.Errorf("flow cookie flags: %+v", c)
			}
			if c.MaxAge != int((10 * time.Minute).Seconds()) {
				t.Errorf("flow cookie Max-Age %d, want 600", c.MaxAge)
			}
		}
	}
	if flows != 1 {
		t.Fatalf("%d flow cookies, want 1", flows)
	}

	// The callback exchanges the code and sends the browser back to where it started.
	cb := b.get(b.idpLogin(loc.String(), user).RequestURI())
	if got := location(t, cb, http.StatusFound); got != "/jupyter/?ns=user-a&x=%2F" {
		t.Fatalf("callback redirects to %q", got)
	}
	jar := b.cookies()
	sess := jar["__Host-kfgate-session"]
	if sess == nil {
		t.Fatalf("no session cookie; cookies %v", jar)
	}
	if !sess.Secure || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" || sess.Domain != "" {
		t.Errorf("session cookie flags: %+v", sess)
	}
	if want := int((12 * time.Hour).Seconds()); sess.MaxAge < want-2 || sess.MaxAge > want {
		t.Errorf("session cookie Max-Age %d s, want about %d s (12h)", sess.MaxAge, want)
	}
	for name := range jar {
		if strings.HasPrefix(name, "__Host-kfgate-flow-") {
			t.Errorf("flow cookie %s not cleared at the callback", name)
		}
	}

	// With the session, requests pass with the identity; kfgate's cookies never reach the app.
	b.jar["app"] = &http.Cookie{Name: "app", Value: "keep-me"}
	resp := b.check("GET", "/jupyter/", map[string]string{"accept": html}, nil)
	up := upstream(t, b.sent, resp)
	if up["kubeflow-userid"] != user.Email || up["kubeflow-groups"] != "admins,users" {
		t.Fatalf("identity upstream: %q %q", up["kubeflow-userid"], up["kubeflow-groups"])
	}
	if up["cookie"] != "app=keep-me" {
		t.Fatalf("upstream Cookie %q, want only the app's cookie", up["cookie"])
	}
	// An API call from the same browser session passes too.
	resp = b.check("GET", "/api/workgroup/env-info", map[string]string{"accept": "application/json"}, nil)
	if status(resp) != http.StatusOK {
		t.Fatalf("API call with session: %d", status(resp))
	}
}

func TestNonBrowsersGet401(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{}, nil)
	b := w.browser()
	for _, c := range []struct {
		name, method, path string
		h                  map[string]string
	}{
		{"curl", "GET", "/", map[string]string{"accept": "*/*"}},
		{"xhr", "GET", "/jupyter/api/namespaces", map[string]string{"accept": html, "x-requested-with": "XMLHttpRequest"}},
		{"grpc", "POST", "/ml_metadata.MetadataStoreService/GetArtifacts", map[string]string{"content-type": "application/grpc-web+proto"}},
		{"api prefix", "GET", "/api/v1/runs", map[string]string{"accept": html}},
		{"apis prefix", "GET", "/apis/v2beta1/runs", map[string]string{"accept": html}},
		{"post", "POST", "/jupyter/api/namespaces/x/notebooks", map[string]string{"accept": html}},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := b.check(c.method, c.path, c.h, nil)
			if status(resp) != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", status(resp))
			}
			if !strings.HasPrefix(deniedHeader(resp, "www-authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate %q", deniedHeader(resp, "www-authenticate"))
			}
			if deniedHeader(resp, "location") != "" {
				t.Fatal("a non-browser request got a redirect")
			}
		})
	}
}

func TestSkipAuthPaths(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{}, nil)
	b := w.browser()
	resp := b.check("GET", "/dex/auth?client_id=x", map[string]string{"accept": html, "kubeflow-userid": "admin@example.com"}, nil)
	up := upstream(t, b.sent, resp)
	if _, ok := up["kubeflow-userid"]; ok {
		t.Fatal("a spoofed kubeflow-userid reached a skip-auth path")
	}
	for _, p := range []string{"/api/x?next=/dex/", "/dex/../api/x", "/dex/%2e%2e/api/x", "/dex/..%2fapi"} {
		if s := status(b.check("GET", p, map[string]string{"accept": "*/*"}, nil)); s != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401 (no skip)", p, s)
		}
	}
}

// Spoofed identity headers, in every spelling, never reach the app: on authenticated requests
// kfgate's values replace them, on skip-auth paths they are removed.
func TestSpoofedIdentityHeaders(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{}, nil)
	b := w.browser()
	location(t, b.login("/", user), http.StatusFound)
	spoofs := []string{"kubeflow-userid", "Kubeflow-Userid", "KUBEFLOW-USERID", "kubeflow_userid", "Kubeflow_UserID",
		"kubeflow-groups", "kubeflow_groups", "KUBEFLOW_GROUPS"}
	for _, path := range []string{"/jupyter/", "/dex/theme/style.css"} {
		h := map[string]string{"accept": html}
		for _, s := range spoofs {
			h[s] = "admin@evil.com"
		}
		resp := b.check("GET", path, h, nil)
		up := upstream(t, b.sent, resp)
		for k, v := range up {
			if v == "admin@evil.com" {
				t.Errorf("%s: spoofed header %s reached the app", path, k)
			}
		}
		if path == "/jupyter/" && up["kubeflow-userid"] != user.Email {
			t.Errorf("kubeflow-userid = %q", up["kubeflow-userid"])
		}
	}
}

func TestLogout(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{}, nil)
	b := w.browser()
	location(t, b.login("/", user), http.StatusFound)
	resp := b.get("/authservice/logout")
	loc, err := url.Parse(location(t, resp, http.StatusFound))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if !strings.HasPrefix(loc.String(), w.idp.Issuer) || q.Get("post_logout_redirect_uri") != "https://"+gatewayHost+"/" ||
		strings.Count(q.Get("id_token_hint"), ".") != 2 {
		t.Fatalf("logout redirect %s", loc)
	}
	if _, ok := b.cookies()["__Host-kfgate-session"]; ok {
		t.Fatal("logout left the session cookie")
	}
	// The provider's session ends too, and sends the browser back.
	back, err := w.idp.Logout(t.Context(), b.idp, loc.String())
	if err != nil || back.Host != gatewayHost {
		t.Fatalf("provider logout: %v %v", back, err)
	}
	if s := status(b.get("/")); s != http.StatusFound {
		t.Fatalf("after logout: %d, want a login redirect", s)
	}
}

func TestLogoutPostDashboardContract(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{}, nil)
	b := w.browser()
	location(t, b.login("/", user), http.StatusFound)
	for _, h := range []map[string]string{
		{},
		{"origin": "https://evil.com"},
		{"origin": "null"},
		{"sec-fetch-site": "cross-site"},
		{"referer": "https://evil.com/x"},
		{"referer": "https://gateway.test.evil.com/"},
	} {
		if s := status(b.check("POST", "/authservice/logout", h, nil)); s != http.StatusForbidden {
			t.Errorf("logout POST with %v: %d, want 403", h, s)
		}
	}
	if _, ok := b.cookies()["__Host-kfgate-session"]; !ok {
		t.Fatal("a refused logout cleared the session")
	}
	resp := b.check("POST", "/authservice/logout", map[string]string{"origin": "https://" + gatewayHost}, nil)
	if status(resp) != http.StatusCreated || deniedHeader(resp, "content-type") != "application/json" {
		t.Fatalf("logout POST: %d %s", status(resp), deniedHeader(resp, "content-type"))
	}
	var body struct {
		AfterLogoutURL string `json:"afterLogoutURL"`
	}
	if err := json.Unmarshal([]byte(resp.GetDeniedResponse().GetBody()), &body); err != nil || !strings.HasPrefix(body.AfterLogoutURL, w.idp.Issuer) {
		t.Fatalf("logout POST body %q: %v", resp.GetDeniedResponse().GetBody(), err)
	}
	if _, ok := b.cookies()["__Host-kfgate-session"]; ok {
		t.Fatal("logout POST left the session cookie")
	}
}

// TestLoginURL: with oidc.loginURL a path (Kubeflow's Dex, whose issuer is an in-cluster address
// no browser can reach), the browser is sent to that path on the gateway's own origin with the
// whole authorization request; the gateway routes it to the provider, and the login completes.
func TestLoginURL(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{}, func(c *authn.Config) { c.OIDC.LoginURL = "/dex/auth" })
	b := w.browser()
	loc, err := url.Parse(location(t, b.get("/jupyter/"), http.StatusFound))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if loc.Scheme != "https" || loc.Host != gatewayHost || loc.Path != "/dex/auth" || q.Get("client_id") != clientID ||
		q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("redirect_uri") != callbackURL {
		t.Fatalf("authorization URL %s; want https://%s/dex/auth with the whole request", loc, gatewayHost)
	}
	// What the gateway's /dex/ route does: the same request, at the provider.
	resp, err := http.Get(w.idp.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var disc struct {
		Authorization string `json:"authorization_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&disc); err != nil {
		t.Fatal(err)
	}
	cb := b.get(b.idpLogin(disc.Authorization+"?"+loc.RawQuery, user).RequestURI())
	if got := location(t, cb, http.StatusFound); got != "/jupyter/" {
		t.Fatalf("callback redirects to %q", got)
	}
	if b.cookies()["__Host-kfgate-session"] == nil {
		t.Fatal("no session after a login through loginURL")
	}
}

func TestLoginURLValidation(t *testing.T) {
	for url, ok := range map[string]bool{"/dex/auth": true, "https://login.example.com/auth": true, "//evil.example/auth": false,
		"dex/auth": false, "javascript:alert(1)": false, "/auth?x=1": false, "https://u:p@h/auth": false} {
		cfg := authn.Defaults()
		cfg.OIDC.Issuer, cfg.OIDC.ClientID, cfg.OIDC.ClientSecretFile = "https://idp.example.com", "c", "/s"
		cfg.Session.KeyFiles = []string{"/k"}
		cfg.OIDC.LoginURL = url
		err := cfg.Validate()
		if got := err == nil || !strings.Contains(err.Error(), "oidc.loginURL"); got != ok {
			t.Errorf("loginURL %q: valid %v, want %v (%v)", url, got, ok, err)
		}
	}
}
