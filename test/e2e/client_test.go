package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kfgate/kfgate/test/oidcprovider"
)

const acceptHTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// client is a browser made of a cookie jar: it follows no redirects, so tests see each one.
type client struct {
	w *world
	c *http.Client
}

func (w *world) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{w: w, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// setCookies gives the jar the gateway's cookies (copied from Chromium).
func (c *client) setCookies(cookies []*http.Cookie) {
	u, _ := url.Parse(c.w.gateway + "/")
	c.c.Jar.SetCookies(u, cookies)
}

// do sends a request to target, a path on the gateway or an absolute URL.
func (c *client) do(t *testing.T, method, target string, headers map[string]string, body string) (*http.Response, string) {
	t.Helper()
	if strings.HasPrefix(target, "/") {
		target = c.w.gateway + target
	}
	req, err := http.NewRequestWithContext(context.Background(), method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// login signs in through the gateway with the HTTP flow: the redirect to the IdP, its login form,
// the callback; it returns once the session cookie is set.
func (c *client) login(t *testing.T) {
	t.Helper()
	resp, _ := c.do(t, http.MethodGet, "/", map[string]string{"Accept": acceptHTML}, "")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), c.w.idp.Issuer) {
		t.Fatalf("GET / without a session: %s to %q, want a 302 to the IdP", resp.Status, resp.Header.Get("Location"))
	}
	callback := c.idpLogin(t, resp.Header.Get("Location"))
	resp, body := c.do(t, http.MethodGet, callback, map[string]string{"Accept": acceptHTML}, "")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/" {
		t.Fatalf("callback: %s to %q (%s), want a 302 to /", resp.Status, resp.Header.Get("Location"), body)
	}
}

// idpLogin logs in at the IdP for an authorization URL and returns the callback URL it redirects to.
func (c *client) idpLogin(t *testing.T, authorize string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	u := oidcprovider.DefaultUser
	next, err := c.w.idp.Login(ctx, c.c, authorize, u.Email, u.Password)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(next.String(), c.w.gateway+"/authservice/oidc/callback?") {
		t.Fatalf("the IdP sent the browser to %s, want the callback", next)
	}
	return next.String()
}

// echo sends a request that the echo upstream must answer, and returns what it saw.
func (c *client) echo(t *testing.T, method, path string, headers map[string]string) echoed {
	t.Helper()
	resp, body := c.do(t, method, path, headers, "")
	var e echoed
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &e) != nil || e.Server != "echo" {
		t.Fatalf("%s %s: %s %q, want the echo upstream's answer", method, path, resp.Status, body)
	}
	return e
}

// predict posts instances to path and returns the prediction, or why there is none.
func (c *client) predict(t *testing.T, path string, headers map[string]string, instances string) (prediction, string) {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json", "Accept": "application/json"}
	for k, v := range headers {
		h[k] = v
	}
	resp, body := c.do(t, http.MethodPost, path, h, `{"instances": `+instances+`}`)
	var p prediction
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &p) != nil || p.Predictions == nil {
		return prediction{}, resp.Status + " " + strings.TrimSpace(body)
	}
	return p, ""
}

// asksForCredentials follows an authorization URL while it stays on the IdP and reports whether it
// ends on the IdP's login form (rather than redirecting back with a code, as a live IdP session does).
func (c *client) asksForCredentials(t *testing.T, authorize string) bool {
	t.Helper()
	target := authorize
	for range 10 {
		resp, body := c.do(t, http.MethodGet, target, map[string]string{"Accept": acceptHTML}, "")
		switch {
		case resp.StatusCode == http.StatusOK:
			return strings.Contains(body, `id="login"`)
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := resp.Location()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(loc.String(), c.w.idp.Issuer+"/") {
				return false // back to the gateway: signed in without a form
			}
			target = loc.String()
		default:
			t.Fatalf("GET %s: %s %q", target, resp.Status, body)
		}
	}
	t.Fatalf("too many redirects from %s", authorize)
	return false
}
