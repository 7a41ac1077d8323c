package oidcprovider

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// maxSteps bounds the redirects and form posts of one browser flow.
const maxSteps = 20

// TokenSet is a token endpoint response.
type TokenSet struct {
	IDToken      string `json:"id_token"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
}

// Login plays the browser for an authorization request built by the code under test: it
// GETs authorizeURL with c (whose cookie jar holds the IdP session), follows redirects
// while they stay on the IdP, submits the login form with username and password, and
// returns the first redirect that leaves the IdP — normally redirect_uri with code and
// state, or with error when the IdP rejects the request — without requesting it.
// A wrong password is an error. c's own CheckRedirect is not used.
func (p *Provider) Login(ctx context.Context, c *http.Client, authorizeURL, username, password string) (*url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authorizeURL, nil)
	if err != nil {
		return nil, err
	}
	submitted := false
	next, page, err := p.walk(c, req, func(pageURL *url.URL, body string) (*http.Request, error) {
		action, ok := formAction(body, "login")
		if !ok {
			return nil, fmt.Errorf("oidcprovider: unexpected page at %s: %s", pageURL, pageText(body))
		}
		if submitted {
			return nil, fmt.Errorf("oidcprovider: login as %q failed: %s", username, pageText(body))
		}
		submitted = true
		return postForm(ctx, pageURL.ResolveReference(action), url.Values{"username": {username}, "password": {password}})
	})
	if err != nil {
		return nil, err
	}
	if next == nil {
		return nil, fmt.Errorf("oidcprovider: login flow ended on an IdP page %s", page)
	}
	return next, nil
}

// Logout plays the browser for an RP-initiated logout URL built by the code under test:
// it GETs endSessionURL with c, confirms the sign-out form (as clicking "Sign out" would),
// and returns where the IdP sends the browser — post_logout_redirect_uri with state, or,
// without one, the IdP's own success page — without requesting a URL outside the IdP.
func (p *Provider) Logout(ctx context.Context, c *http.Client, endSessionURL string) (*url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endSessionURL, nil)
	if err != nil {
		return nil, err
	}
	confirmed := false
	next, page, err := p.walk(c, req, func(pageURL *url.URL, body string) (*http.Request, error) {
		if confirmed {
			return nil, nil // the IdP's sign-out success page
		}
		// Our logoutSource page (signed in) or oidc-provider's self-submitting form
		// (no session): both post hidden inputs to end_session_confirm.
		m := formTag.FindStringSubmatch(body)
		if m == nil {
			return nil, fmt.Errorf("oidcprovider: no logout form at %s: %s", pageURL, pageText(body))
		}
		action, err := url.Parse(html.UnescapeString(attr(m[0], "action")))
		if err != nil {
			return nil, err
		}
		form := hiddenInputs(body)
		form.Set("logout", "yes")
		confirmed = true
		return postForm(ctx, pageURL.ResolveReference(action), form)
	})
	if err != nil {
		return nil, err
	}
	if next == nil {
		return page, nil
	}
	return next, nil
}

// Tokens runs a whole authorization code + PKCE flow as the "tokens" client in a fresh
// browser session and returns the token response. scopes defaults to
// openid email profile groups. This gives tests a real RS256 ID token to use as a bearer JWT.
func (p *Provider) Tokens(ctx context.Context, username, password string, scopes ...string) (TokenSet, error) {
	if len(scopes) == 0 {
		scopes = []string{"openid", "email", "profile", "groups"}
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return TokenSet{}, err
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	verifier, challenge := PKCE()
	state, nonce := RandomString(), RandomString()
	authz := p.Issuer + "/auth?" + url.Values{
		"client_id":             {TokensClientID},
		"redirect_uri":          {TokensRedirectURI},
		"response_type":         {"code"},
		"scope":                 {strings.Join(scopes, " ")},
		"state":                 {state},
		"nonce":                 {nonce},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}.Encode()
	cb, err := p.Login(ctx, c, authz, username, password)
	if err != nil {
		return TokenSet{}, err
	}
	q := cb.Query()
	if e := q.Get("error"); e != "" {
		return TokenSet{}, fmt.Errorf("oidcprovider: authorization failed: %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != state {
		return TokenSet{}, fmt.Errorf("oidcprovider: state mismatch in %s", cb)
	}
	return p.token(ctx, c, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {q.Get("code")},
		"redirect_uri":  {TokensRedirectURI},
		"code_verifier": {verifier},
	})
}

// token posts form to the token endpoint as the "tokens" client (client_secret_basic).
func (p *Provider) token(ctx context.Context, c *http.Client, form url.Values) (TokenSet, error) {
	req, err := postForm(ctx, mustParse(p.Issuer+"/token"), form)
	if err != nil {
		return TokenSet{}, err
	}
	req.SetBasicAuth(TokensClientID, TokensClientSecret)
	resp, err := c.Do(req)
	if err != nil {
		return TokenSet{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return TokenSet{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return TokenSet{}, fmt.Errorf("oidcprovider: token endpoint: %s: %s", resp.Status, body)
	}
	var ts TokenSet
	if err := json.Unmarshal(body, &ts); err != nil {
		return TokenSet{}, fmt.Errorf("oidcprovider: token response: %w", err)
	}
	return ts, nil
}

// PKCE returns a fresh code_verifier and its S256 code_challenge.
func PKCE() (verifier, challenge string) {
	verifier = RandomString()
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// RandomString returns 32 random bytes, base64url-encoded: for state, nonce and verifiers.
func RandomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// walk performs req with c's cookie jar and follows redirects itself while they stay on
// the IdP. Each 200 page is handed to onPage, which returns the next request (a form
// post), or nil to stop there. It returns the first redirect target off the IdP (next),
// or, when onPage stopped, the URL of the last page.
func (p *Provider) walk(c *http.Client, req *http.Request, onPage func(*url.URL, string) (*http.Request, error)) (next, page *url.URL, err error) {
	idp := mustParse(p.Issuer)
	// A copy, so redirects are ours to follow and the caller's client stays untouched.
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for range maxSteps {
		resp, err := cc.Do(req)
		if err != nil {
			return nil, nil, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		if err != nil {
			return nil, nil, err
		}
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := resp.Location()
			if err != nil {
				return nil, nil, fmt.Errorf("oidcprovider: %s from %s: %w", resp.Status, req.URL, err)
			}
			if loc.Scheme != idp.Scheme || loc.Host != idp.Host {
				return loc, nil, nil
			}
			if req, err = http.NewRequestWithContext(req.Context(), http.MethodGet, loc.String(), nil); err != nil {
				return nil, nil, err
			}
		case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized:
			// 401 is our login page saying the password was wrong; onPage decides.
			nextReq, err := onPage(req.URL, string(body))
			if err != nil {
				return nil, nil, err
			}
			if nextReq == nil {
				return nil, req.URL, nil
			}
			req = nextReq
		default:
			return nil, nil, fmt.Errorf("oidcprovider: %s %s: %s: %s", req.Method, req.URL, resp.Status, pageText(string(body)))
		}
	}
	return nil, nil, errors.New("oidcprovider: too many redirects or forms")
}

func postForm(ctx context.Context, u *url.URL, form url.Values) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// The pages parsed here are provider.mjs's own and oidc-provider's form_post page, whose
// shapes are known, so a few regular expressions do instead of an HTML parser.
var (
	formTag     = regexp.MustCompile(`<form\b[^>]*>`)
	inputTag    = regexp.MustCompile(`<input\b[^>]*>`)
	attrPattern = regexp.MustCompile(`\b([a-z]+)="([^"]*)"`)
	tagPattern  = regexp.MustCompile(`<[^>]*>`)
	spaces      = regexp.MustCompile(`\s+`)
)

// attr returns the value of attribute name in tag, still HTML-escaped.
func attr(tag, name string) string {
	for _, m := range attrPattern.FindAllStringSubmatch(tag, -1) {
		if m[1] == name {
			return m[2]
		}
	}
	return ""
}

// formAction returns the action of the form with the given id.
func formAction(body, id string) (*url.URL, bool) {
	for _, tag := range formTag.FindAllString(body, -1) {
		if attr(tag, "id") == id {
			u, err := url.Parse(html.UnescapeString(attr(tag, "action")))
			return u, err == nil
		}
	}
	return nil, false
}

func hiddenInputs(body string) url.Values {
	v := url.Values{}
	for _, tag := range inputTag.FindAllString(body, -1) {
		if attr(tag, "type") == "hidden" {
			v.Add(html.UnescapeString(attr(tag, "name")), html.UnescapeString(attr(tag, "value")))
		}
	}
	return v
}

// pageText is a page's visible text, shortened, for error messages.
func pageText(body string) string {
	if i := strings.Index(body, "<body"); i >= 0 {
		body = body[i:]
	}
	s := strings.TrimSpace(spaces.ReplaceAllString(html.UnescapeString(tagPattern.ReplaceAllString(body, " ")), " "))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func mustParse(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
