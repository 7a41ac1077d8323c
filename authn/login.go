package authn

import (
	"net/http"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// startLogin answers a browser without a session: a 302 to the provider with a fresh state, nonce
// and PKCE verifier, remembered in a flow cookie of its own. Old session cookies are cleared, so no
// session survives into the new login (fixation), and stale flow cookies are cleaned.
func (a *Authorizer) startLogin(r *Request, clear []*http.Cookie) Outcome {
	now := a.d.Now()
	lc := a.loopCount(r, now)
	if lc.N >= a.cfg.Login.LoopLimit {
		a.d.Metrics.login("loop")
		return page(http.StatusTooManyRequests, reasonLoginLoop, Problem{
			Title:  "Sign-in keeps starting over",
			Detail: "This browser started many sign-ins in a short time without keeping a session. Cookies may be blocked for this site, or the gateway is misconfigured. Wait a minute and try again.",
		}, clear...)
	}
	if !a.limiter.allow(r.ClientIP) {
		a.d.Metrics.login("rate_limited")
		return page(http.StatusTooManyRequests, reasonLoginRateLimit, Problem{
			Title: "Too many sign-ins", Detail: "Too many sign-ins were started from your address. Wait a minute and try again.",
		}, clear...)
	}
	idp, err := a.d.IDP.Current()
	if err != nil || !a.d.IDP.Reachable() {
		a.d.Metrics.login("idp_unavailable")
		return unavailable(reasonIDPUnavailable, "The identity provider cannot be reached, so you cannot sign in right now. Try again in a few minutes.")
	}
	f, err := a.newFlow(r)
	if err != nil {
		a.d.Log.Error(err, "starting a login")
		return unavailable(reasonIDPUnavailable, "A sign-in could not be started.")
	}
	name := a.names.flow(f.State)
	sealed, err := sealFlow(a.d.Keys, name, f)
	if err != nil {
		a.d.Log.Error(err, "sealing a login state")
		return unavailable(reasonIDPUnavailable, "A sign-in could not be started.")
	}
	cookies := append(clear, a.staleFlows(r, a.cfg.Login.MaxFlows-1, now)...)
	cookies = append(cookies, a.names.cookie(name, sealed, a.cfg.Login.FlowTimeout, now))
	lc.N++
	if c, err := a.loopCookie(lc, now); err == nil {
		cookies = append(cookies, c)
	}
	oc := idp.OAuth2
	oc.RedirectURL = f.RedirectURI
	if l := a.cfg.OIDC.LoginURL; l != "" {
		if strings.HasPrefix(l, "/") {
			l = r.Origin() + l
		}
		oc.Endpoint.AuthURL = l
	}
	a.d.Metrics.login("redirect")
	return redirect(oc.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), reasonLogin, cookies...)
}

func (a *Authorizer) newFlow(r *Request) (flowState, error) {
	f := flowState{Return: safeReturn(r.RawPath), RedirectURI: a.redirectURI(r), Created: a.d.Now()}
	var err error
	if f.State, err = randomString(a.d.Rand, 32); err != nil {
		return f, err
	}
	if f.Nonce, err = randomString(a.d.Rand, 32); err != nil {
		return f, err
	}
	// A 32-byte verifier is 43 characters: RFC 7636's minimum, with 256 bits of entropy.
	f.Verifier, err = randomString(a.d.Rand, 32)
	return f, err
}

// redirectURI is the callback URL for a request: the configured one, or the request's own origin.
func (a *Authorizer) redirectURI(r *Request) string {
	if a.cfg.OIDC.RedirectURL != "" {
		return a.cfg.OIDC.RedirectURL
	}
	return r.Origin() + a.cfg.OIDC.CallbackPath
}
