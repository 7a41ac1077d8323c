package authn

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// logout ends the session. GET redirects to the provider's end_session_endpoint (RP-initiated
// logout, so that the provider's own session ends too: kubeflow #6372) or to the after-logout URL.
// POST is the Kubeflow central dashboard's contract: a JSON {"afterLogoutURL": ...} the dashboard
// navigates to. POST must come from this origin: a cross-site form must not log users out.
func (a *Authorizer) logout(ctx context.Context, r *Request) Outcome {
	if r.Method == http.MethodPost && !sameOrigin(r) {
		return forbidden(reasonLogoutForbidden, "Logout must be requested from this site.")
	}
	var idToken string
	if s, err := a.d.Store.Load(ctx, r.Cookies); err == nil {
		idToken = s.IDToken
	}
	clear := a.clearSession(ctx, r)
	target := a.afterLogout(r, idToken)
	if r.Method == http.MethodPost {
		b, _ := json.Marshal(map[string]string{"afterLogoutURL": target}) // a map of strings always encodes
		return Outcome{Kind: Page, Status: http.StatusCreated, JSON: string(b), Cookies: clear, Reason: reasonLogout}
	}
	return redirect(target, reasonLogout, clear...)
}

// afterLogout is where the browser goes once the session is cleared.
func (a *Authorizer) afterLogout(r *Request, idToken string) string {
	back := a.cfg.Logout.AfterLogoutURL
	if back == "" {
		back = r.Origin() + "/"
	}
	idp, err := a.d.IDP.Current()
	if err != nil || idp.EndSession == "" {
		return back
	}
	u, err := url.Parse(idp.EndSession)
	if err != nil {
		return back
	}
	q := u.Query()
	q.Set("post_logout_redirect_uri", back)
	q.Set("client_id", a.cfg.OIDC.ClientID)
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// sameOrigin accepts a state-changing request only when the browser says it comes from this
// origin: Origin when sent (every browser sends it on POST), else Sec-Fetch-Site, else Referer.
func sameOrigin(r *Request) bool {
	if o := r.Header("origin"); o != "" {
		return strings.EqualFold(o, r.Origin())
	}
	if s := r.Header("sec-fetch-site"); s != "" {
		return s == "same-origin"
	}
	if ref := r.Header("referer"); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && strings.EqualFold(u.Scheme+"://"+u.Host, r.Origin())
	}
	return false
}
