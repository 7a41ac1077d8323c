package authn

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/kfgate/kfgate/authn/session"
)

// callback finishes a login: the state must match a flow cookie of this browser and never have
// been used, the code is exchanged with the flow's PKCE verifier, the ID token verified and its
// nonce compared, and a brand-new session is created. The browser goes back to where it started,
// on this host only.
func (a *Authorizer) callback(ctx context.Context, r *Request) Outcome {
	now := a.d.Now()
	q, err := url.ParseQuery(r.Query)
	if err != nil {
		return a.callbackFailed("malformed", http.StatusBadRequest, "The sign-in answer is malformed.")
	}
	state := q.Get("state")
	if len(state) < stateIDLen || strings.ContainsAny(state, " ;,=") {
		return a.callbackFailed("no_state", http.StatusBadRequest, "The sign-in answer has no valid state.")
	}
	name := a.names.flow(state)
	var f flowState
	found := false
	for _, c := range r.Cookies {
		if c.Name == name {
			if f, err = openFlow(a.d.Keys, name, c.Value); err == nil {
				found = true
			}
			break
		}
	}
	clearFlow := a.names.cookie(name, "", 0, now)
	if !found || subtle.ConstantTimeCompare([]byte(f.State), []byte(state)) != 1 {
		return a.callbackFailed("state_mismatch", http.StatusBadRequest,
			"This sign-in was not started in this browser, has expired, or was already used.", clearFlow)
	}
	if now.Sub(f.Created) > a.cfg.Login.FlowTimeout {
		return a.callbackFailed("expired", http.StatusBadRequest, "This sign-in took too long and has expired.", clearFlow)
	}
	fresh, err := a.d.Ledger.Claim(ctx, "state:"+f.State, a.cfg.Login.FlowTimeout)
	if err != nil {
		return a.callbackUnavailable(err, "the session store", clearFlow)
	}
	if !fresh {
		return a.callbackFailed("replayed", http.StatusBadRequest, "This sign-in answer was already used.", clearFlow)
	}
	if e := q.Get("error"); e != "" {
		return a.callbackFailed("idp_error", http.StatusForbidden,
			fmt.Sprintf("The identity provider refused the sign-in (%s).", truncate(e, 64)), clearFlow)
	}
	if iss := q.Get("iss"); iss != "" && iss != a.cfg.OIDC.Issuer {
		// RFC 9207: an answer from another issuer is a mix-up attack.
		return a.callbackFailed("wrong_issuer", http.StatusBadRequest, "The sign-in answer comes from another identity provider.", clearFlow)
	}
	code := q.Get("code")
	if code == "" {
		return a.callbackFailed("no_code", http.StatusBadRequest, "The sign-in answer has no code.", clearFlow)
	}
	idp, err := a.d.IDP.Current()
	if err != nil {
		return a.callbackUnavailable(err, "the identity provider", clearFlow)
	}
	s, err := a.redeem(ctx, idp, f, code)
	if errors.Is(err, errIDPDown) {
		return a.callbackUnavailable(err, "the identity provider", clearFlow)
	}
	if err != nil {
		a.d.Log.Info("login rejected", "reason", err.Error())
		return a.callbackFailed("rejected", http.StatusForbidden, "The sign-in could not be verified.", clearFlow)
	}
	cookies, err := a.d.Store.Save(ctx, s, r.Cookies)
	if err != nil {
		return a.callbackUnavailable(err, "the session store", clearFlow)
	}
	a.d.Metrics.callback("ok")
	cookies = append(cookies, clearFlow, a.names.cookie(a.names.loop, "", 0, now))
	return redirect(safeReturn(f.Return), reasonCallback, cookies...)
}

var errIDPDown = errors.New("identity provider unreachable")

// redeem exchanges the code and turns the verified ID token into a new session.
func (a *Authorizer) redeem(ctx context.Context, idp *Discovered, f flowState, code string) (*session.Session, error) {
	ctx, cancel := a.idpContext(ctx)
	defer cancel()
	oc := idp.OAuth2
	oc.RedirectURL = f.RedirectURI
	tok, err := oc.Exchange(idp.ctx(ctx), code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("token endpoint: %s", re.ErrorCode)
		}
		return nil, fmt.Errorf("%w: %w", errIDPDown, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("the token response has no id_token")
	}
	idt, err := idp.Verifier.Verify(idp.ctx(ctx), raw)
	if err != nil {
		return nil, fmt.Errorf("id_token: %w", err)
	}
	// go-oidc does not check the nonce: without this, a token minted for another login is accepted.
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return nil, errors.New("id_token: nonce does not match the login")
	}
	user, groups, err := a.claims(idt)
	if err != nil {
		return nil, err
	}
	id, err := session.NewID(a.d.Rand)
	if err != nil {
		return nil, err
	}
	now := a.d.Now()
	return &session.Session{
		ID: id, User: user, Groups: groups, Subject: idt.Subject, Issuer: idt.Issuer,
		IDToken: raw, RefreshToken: tok.RefreshToken, Expiry: tokenExpiry(tok, idt),
		Created: now, LastSeen: now,
	}, nil
}

// tokenExpiry is when the session's tokens need refreshing: the earlier of the access token's and
// the ID token's expiry.
func tokenExpiry(tok *oauth2.Token, idt *oidc.IDToken) (exp time.Time) {
	exp = idt.Expiry
	if !tok.Expiry.IsZero() && (exp.IsZero() || tok.Expiry.Before(exp)) {
		exp = tok.Expiry
	}
	return exp
}

func (a *Authorizer) callbackFailed(outcome string, status int, detail string, cookies ...*http.Cookie) Outcome {
	a.d.Metrics.callback(outcome)
	return page(status, reasonCallbackInvalid, Problem{Title: "Sign-in failed", Detail: detail, Retry: "/"}, cookies...)
}

func (a *Authorizer) callbackUnavailable(err error, what string, cookies ...*http.Cookie) Outcome {
	a.d.Metrics.callback("unavailable")
	a.d.Log.Error(err, "finishing a login", "unavailable", what)
	o := unavailable(reasonIDPUnavailable, "The sign-in could not be finished because "+what+" cannot be reached. Try again in a few minutes.")
	o.Cookies = cookies
	return o
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
