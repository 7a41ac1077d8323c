package oidcprovider

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// app is the relying party these tests play; nothing listens on port 9.
var app = Client{
	ID:                     "app",
	Secret:                 "app-secret",
	RedirectURIs:           []string{"http://127.0.0.1:9/callback"},
	PostLogoutRedirectURIs: []string{"http://127.0.0.1:9/logged-out"},
}

func start(t *testing.T, opts Options) *Provider {
	t.Helper()
	opts.Clients = append(opts.Clients, app)
	begin := time.Now()
	p := Start(t, opts)
	t.Logf("Start took %v", time.Since(begin))
	return p
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// browser is a client with its own cookie jar, like one browser profile.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

type discovery struct {
	Issuer                        string   `json:"issuer"`
	AuthorizationEndpoint         string   `json:"authorization_endpoint"`
	TokenEndpoint                 string   `json:"token_endpoint"`
	JWKSURI                       string   `json:"jwks_uri"`
	EndSessionEndpoint            string   `json:"end_session_endpoint"`
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported"`
	ScopesSupported               []string `json:"scopes_supported"`
}

func getJSON(ctx context.Context, t *testing.T, u string, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func discover(ctx context.Context, t *testing.T, p *Provider) discovery {
	t.Helper()
	var d discovery
	getJSON(ctx, t, p.Issuer+"/.well-known/openid-configuration", &d)
	return d
}

// tokenRequest posts form to the token endpoint as app, with client_secret_basic or _post.
func tokenRequest(ctx context.Context, t *testing.T, d discovery, basic bool, form url.Values) (int, map[string]any) {
	t.Helper()
	if !basic {
		form.Set("client_id", app.ID)
		form.Set("client_secret", app.Secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(app.ID, app.Secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("token response %s: %v: %s", resp.Status, err, body)
	}
	return resp.StatusCode, out
}

// verifyJWT checks an RS256 signature against the provider's JWKS and returns the claims.
func verifyJWT(ctx context.Context, t *testing.T, d discovery, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	var header struct{ Alg, Kid string }
	decodeSegment(t, parts[0], &header)
	if header.Alg != "RS256" {
		t.Fatalf("alg = %q, want RS256", header.Alg)
	}
	var jwks struct {
		Keys []struct{ Kty, Kid, Alg, N, E string }
	}
	getJSON(ctx, t, d.JWKSURI, &jwks)
	var pub *rsa.PublicKey
	for _, k := range jwks.Keys {
		if k.Kid == header.Kid && k.Kty == "RSA" {
			pub = &rsa.PublicKey{N: new(big.Int).SetBytes(b64(t, k.N)), E: int(new(big.Int).SetBytes(b64(t, k.E)).Int64())}
		}
	}
	if pub == nil {
		t.Fatalf("kid %q not in JWKS %+v", header.Kid, jwks)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], b64(t, parts[2])); err != nil {
		t.Fatalf("signature: %v", err)
	}
	var claims map[string]any
	decodeSegment(t, parts[1], &claims)
	return claims
}

func decodeSegment(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal(b64(t, s), v); err != nil {
		t.Fatal(err)
	}
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// authorizeURL builds the request an RP would send, with PKCE S256 unless verifier is "".
func authorizeURL(d discovery, state, nonce, challenge string) string {
	q := url.Values{
		"client_id":     {app.ID},
		"redirect_uri":  {app.RedirectURIs[0]},
		"response_type": {"code"},
		"scope":         {"openid email profile groups"},
		"state":         {state},
		"nonce":         {nonce},
	}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	return d.AuthorizationEndpoint + "?" + q.Encode()
}

// login runs Login for DefaultUser and exchanges the code with client_secret_basic.
func login(ctx context.Context, t *testing.T, p *Provider, d discovery, c *http.Client) (nonce string, tokens map[string]any) {
	t.Helper()
	verifier, challenge := PKCE()
	state, nonce := RandomString(), RandomString()
	cb, err := p.Login(ctx, c, authorizeURL(d, state, nonce, challenge), DefaultUser.Email, DefaultUser.Password)
	if err != nil {
		t.Fatal(err)
	}
	if got := cb.Scheme + "://" + cb.Host + cb.Path; got != app.RedirectURIs[0] {
		t.Fatalf("redirected to %s, want %s", cb, app.RedirectURIs[0])
	}
	q := cb.Query()
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("callback %s: want code and state %q", cb, state)
	}
	status, tokens := tokenRequest(ctx, t, d, true, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {q.Get("code")},
		"redirect_uri":  {app.RedirectURIs[0]},
		"code_verifier": {verifier},
	})
	if status != http.StatusOK {
		t.Fatalf("code exchange: %d %v", status, tokens)
	}
	return nonce, tokens
}

func TestDiscovery(t *testing.T) {
	p := start(t, Options{})
	d := discover(testContext(t), t, p)
	if d.Issuer != p.Issuer || !strings.HasPrefix(p.Issuer, "http://127.0.0.1:") {
		t.Errorf("issuer = %q, Provider.Issuer = %q", d.Issuer, p.Issuer)
	}
	if d.EndSessionEndpoint != p.Issuer+"/session/end" {
		t.Errorf("end_session_endpoint = %q", d.EndSessionEndpoint)
	}
	if !slices.Contains(d.CodeChallengeMethodsSupported, "S256") {
		t.Errorf("code_challenge_methods_supported = %v", d.CodeChallengeMethodsSupported)
	}
	for _, s := range []string{"openid", "profile", "email", "groups", "offline_access"} {
		if !slices.Contains(d.ScopesSupported, s) {
			t.Errorf("scopes_supported = %v lacks %s", d.ScopesSupported, s)
		}
	}
}

func TestCodeFlowAndRefresh(t *testing.T) {
	p := start(t, Options{AccessTokenTTL: 2 * time.Minute, IDTokenTTL: 3 * time.Minute})
	ctx := testContext(t)
	d := discover(ctx, t, p)
	nonce, tokens := login(ctx, t, p, d, browser(t))

	if tokens["expires_in"] != float64(120) || tokens["token_type"] != "Bearer" {
		t.Errorf("expires_in/token_type = %v/%v, want 120/Bearer", tokens["expires_in"], tokens["token_type"])
	}
	refresh, _ := tokens["refresh_token"].(string)
	if refresh == "" {
		t.Fatalf("no refresh_token without offline_access: %v", tokens)
	}
	claims := verifyJWT(ctx, t, d, tokens["id_token"].(string))
	want := map[string]any{
		"iss": p.Issuer, "aud": app.ID, "sub": DefaultUser.ID, "nonce": nonce,
		"email": DefaultUser.Email, "email_verified": true, "name": DefaultUser.Name,
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("id_token %s = %v, want %v", k, claims[k], v)
		}
	}
	if fmt.Sprint(claims["groups"]) != "[admins users]" {
		t.Errorf("id_token groups = %#v", claims["groups"])
	}
	if ttl := claims["exp"].(float64) - claims["iat"].(float64); ttl != 180 {
		t.Errorf("id_token lifetime = %vs, want 180", ttl)
	}

	// Refresh with client_secret_post: the other auth method kfgate may use.
	status, refreshed := tokenRequest(ctx, t, d, false, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {refresh},
	})
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, refreshed)
	}
	if refreshed["access_token"] == "" || refreshed["access_token"] == tokens["access_token"] {
		t.Errorf("refresh gave access_token %v", refreshed["access_token"])
	}
	rotated, _ := refreshed["refresh_token"].(string)
	if rotated == "" || rotated == refresh {
		t.Errorf("refresh token not rotated: %v", refreshed)
	}
	idToken, _ := refreshed["id_token"].(string)
	if idToken == "" {
		t.Fatalf("refresh response has no id_token: %v", refreshed)
	}
	// OIDC Core 12.2 allows the original nonce to reappear after a refresh, and
	// oidc-provider does repeat it: an RP must not demand a fresh one (or none) here.
	if c := verifyJWT(ctx, t, d, idToken); c["email"] != DefaultUser.Email || c["nonce"] != nonce {
		t.Errorf("refreshed id_token email/nonce = %v/%v, want %s/%s", c["email"], c["nonce"], DefaultUser.Email, nonce)
	}

	// Rotation consumed the old refresh token.
	if status, out := tokenRequest(ctx, t, d, true, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {refresh},
	}); status != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Errorf("reusing a rotated refresh token: %d %v, want 400 invalid_grant", status, out)
	}
}

func TestWrongPassword(t *testing.T) {
	p := start(t, Options{})
	ctx := testContext(t)
	d := discover(ctx, t, p)
	_, challenge := PKCE()
	u, err := p.Login(ctx, browser(t), authorizeURL(d, "s", "n", challenge), DefaultUser.Email, "wrong")
	if err == nil || !strings.Contains(err.Error(), "invalid username or password") {
		t.Fatalf("Login with a wrong password = %v, %v; want an error", u, err)
	}
	// The account id works as a username too.
	if _, err := p.Login(ctx, browser(t), authorizeURL(d, "s", "n", challenge), DefaultUser.ID, DefaultUser.Password); err != nil {
		t.Fatalf("Login by account id: %v", err)
	}
}

func TestPKCERequired(t *testing.T) {
	p := start(t, Options{})
	ctx := testContext(t)
	d := discover(ctx, t, p)
	cb, err := p.Login(ctx, browser(t), authorizeURL(d, "st", "n", ""), DefaultUser.Email, DefaultUser.Password)
	if err != nil {
		t.Fatal(err)
	}
	// The IdP refuses before any login page, by redirecting the error to the RP.
	if q := cb.Query(); q.Get("error") != "invalid_request" || q.Get("state") != "st" || q.Get("code") != "" {
		t.Fatalf("authorize without PKCE redirected to %s, want error=invalid_request", cb)
	}
}

func TestLogout(t *testing.T) {
	p := start(t, Options{})
	ctx := testContext(t)
	d := discover(ctx, t, p)
	c := browser(t)
	_, tokens := login(ctx, t, p, d, c)

	// While the IdP session lives, a second authorization needs no password at all.
	_, challenge := PKCE()
	if _, err := p.Login(ctx, c, authorizeURL(d, "s", "n", challenge), "nobody", "wrong"); err != nil {
		t.Fatalf("SSO while signed in: %v", err)
	}

	end := d.EndSessionEndpoint + "?" + url.Values{
		"id_token_hint":            {tokens["id_token"].(string)},
		"post_logout_redirect_uri": {app.PostLogoutRedirectURIs[0]},
		"state":                    {"bye"},
	}.Encode()
	u, err := p.Logout(ctx, c, end)
	if err != nil {
		t.Fatal(err)
	}
	if u.String() != app.PostLogoutRedirectURIs[0]+"?state=bye" {
		t.Fatalf("Logout ended at %s", u)
	}

	// The session is gone, so the login form is back, and the grant with its refresh token.
	if _, err := p.Login(ctx, c, authorizeURL(d, "s", "n", challenge), "nobody", "wrong"); err == nil {
		t.Error("authorization after logout needed no login")
	}
	if status, out := tokenRequest(ctx, t, d, true, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {tokens["refresh_token"].(string)},
	}); status != http.StatusBadRequest {
		t.Errorf("refresh after logout: %d %v, want 400", status, out)
	}

	// Logging out without a session still completes, at the IdP's success page.
	u, err = p.Logout(ctx, c, d.EndSessionEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	if u.String() != p.Issuer+"/session/end/success" {
		t.Errorf("Logout without session ended at %s", u)
	}
}

func TestRestartKeepsSigningKey(t *testing.T) {
	p := start(t, Options{})
	ctx := testContext(t)
	before, err := p.Tokens(ctx, DefaultUser.Email, DefaultUser.Password)
	if err != nil {
		t.Fatal(err)
	}

	p.Stop()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.Issuer+"/.well-known/openid-configuration", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		_ = resp.Body.Close()
		t.Fatalf("stopped provider answered %s", resp.Status)
	}

	begin := time.Now()
	p.Restart(t)
	t.Logf("Restart took %v", time.Since(begin))
	d := discover(ctx, t, p)
	claims := verifyJWT(ctx, t, d, before.IDToken)
	if claims["sub"] != DefaultUser.ID || claims["aud"] != TokensClientID {
		t.Errorf("old id_token claims after restart: %v", claims)
	}
	kid, _ := p.SigningKey()
	after, err := p.Tokens(ctx, DefaultUser.Email, DefaultUser.Password, "openid")
	if err != nil {
		t.Fatal(err)
	}
	var header struct{ Kid string }
	decodeSegment(t, strings.Split(after.IDToken, ".")[0], &header)
	if header.Kid != kid {
		t.Errorf("kid after restart = %q, want %q", header.Kid, kid)
	}
	if c := verifyJWT(ctx, t, d, after.IDToken); c["email"] != nil {
		t.Errorf("scope openid alone still gave email %v", c["email"])
	}
}
