package authn

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/kfgate/kfgate/authn/internal/ttlcache"
	"github.com/kfgate/kfgate/authn/session"
)

func (a *Authorizer) needsRefresh(s *session.Session, now time.Time) bool {
	return s.RefreshToken != "" && !s.Expiry.IsZero() && !now.Before(s.Expiry.Add(-a.cfg.Session.RefreshBefore))
}

// idpContext bounds a call to the provider made inside Check by oidc.timeout and by Envoy's own
// deadline (the AuthService timeout_ms, 5 s by default), less a margin: kfgate must answer with its
// own page before Envoy gives up and applies status_on_error.
func (a *Authorizer) idpContext(ctx context.Context) (context.Context, context.CancelFunc) {
	budget := a.cfg.OIDC.Timeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) - 250*time.Millisecond; left < budget {
			budget = max(left, 50*time.Millisecond)
		}
	}
	return context.WithTimeout(ctx, budget)
}

// refreshSession renews the session's tokens under the session's lock, so that parallel requests
// (or replicas, with Redis) refresh once. ok false means the provider refused: the session is
// deleted and the returned cookies clear it. When the provider cannot be reached the session keeps
// working as it is until its own timeouts end it.
func (a *Authorizer) refreshSession(ctx context.Context, r *Request, s *session.Session) (*session.Session, []*http.Cookie, bool) {
	lockCtx, cancel := a.idpContext(ctx)
	defer cancel()
	unlock, err := a.d.Store.Lock(lockCtx, s.ID, a.cfg.OIDC.Timeout+time.Second)
	if err != nil {
		a.d.Metrics.refresh("lock_failed")
		a.d.Log.Error(err, "locking a session for refresh")
		return s, nil, true
	}
	defer unlock()
	now := a.d.Now()
	// Whoever held the lock before may have refreshed already.
	if done := a.refresh.get(s.ID); done != nil {
		cs, err := a.d.Store.Save(ctx, done, r.Cookies)
		if err == nil {
			return done, cs, true
		}
	}
	if again, err := a.d.Store.Load(ctx, r.Cookies); err == nil && !a.needsRefresh(again, now) {
		return again, nil, true
	}
	idp, err := a.d.IDP.Current()
	if err != nil {
		a.d.Metrics.refresh("idp_unavailable")
		return s, nil, true
	}
	fresh, err := a.renew(ctx, idp, s)
	switch {
	case errors.Is(err, errIDPDown):
		a.d.Metrics.refresh("idp_unavailable")
		a.d.Log.Error(err, "refreshing a session; keeping it")
		// Do not ask again on every request (each would wait for the provider): back off.
		a.refresh.fail(s.ID)
		return s, nil, true
	case err != nil:
		a.d.Metrics.refresh("rejected")
		a.d.Log.Info("refresh rejected; the session ends", "reason", err.Error())
		return nil, a.clearSession(ctx, r), false
	}
	fresh.LastSeen = now
	cs, err := a.d.Store.Save(ctx, fresh, r.Cookies)
	if err != nil {
		a.d.Log.Error(err, "saving a refreshed session")
		return s, nil, true
	}
	a.refresh.put(fresh)
	a.d.Metrics.refresh("ok")
	return fresh, cs, true
}

// renew calls the token endpoint with the refresh token. A new ID token must belong to the same
// subject; a response without one keeps the identity the session has (the provider need not send
// one on refresh, and treating that as a failure makes refresh loops: authservice #106).
func (a *Authorizer) renew(ctx context.Context, idp *Discovered, s *session.Session) (*session.Session, error) {
	ctx, cancel := a.idpContext(ctx)
	defer cancel()
	src := idp.OAuth2.TokenSource(idp.ctx(ctx), &oauth2.Token{RefreshToken: s.RefreshToken, Expiry: time.Unix(1, 0)})
	tok, err := src.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return nil, errors.New("token endpoint refused the refresh token: " + re.ErrorCode)
		}
		return nil, errors.Join(errIDPDown, err)
	}
	n := *s
	if tok.RefreshToken != "" {
		n.RefreshToken = tok.RefreshToken
	}
	n.Expiry = tok.Expiry
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		idt, err := idp.Verifier.Verify(idp.ctx(ctx), raw)
		if err != nil {
			return nil, errors.New("refreshed id_token: " + err.Error())
		}
		if idt.Subject != s.Subject {
			return nil, errors.New("refreshed id_token is for another subject")
		}
		user, groups, err := a.claims(idt)
		if err != nil {
			return nil, err
		}
		n.User, n.Groups, n.IDToken = user, groups, raw
		n.Expiry = earliest(tok.Expiry, idt)
	}
	if n.Expiry.IsZero() || !n.Expiry.After(a.d.Now()) {
		// A provider that answers with no (or a past) expiry would be refreshed on every request.
		n.Expiry = a.d.Now().Add(5 * time.Minute)
	}
	return &n, nil
}

func earliest(t time.Time, idt *oidc.IDToken) time.Time {
	if t.IsZero() || idt.Expiry.Before(t) {
		return idt.Expiry
	}
	return t
}

// refreshCache remembers sessions refreshed in the last seconds, so that a request that waited on
// the lock with the old cookie continues with the new session instead of refreshing again (the
// cookie store has no server-side copy to re-read), and sessions whose refresh could not reach the
// provider, so that they back off instead of each request waiting for it again.
type refreshCache struct {
	now    func() time.Time
	done   *ttlcache.Cache[string, session.Session]
	failed *ttlcache.Cache[string, struct{}]
}

const (
	refreshCacheTTL = 30 * time.Second
	// refreshBackoff is how long a session whose refresh could not reach the provider waits before
	// trying again (it keeps working meanwhile).
	refreshBackoff = 30 * time.Second
	refreshEntries = 10000
)

func newRefreshCache(now func() time.Time) *refreshCache {
	return &refreshCache{now: now, done: ttlcache.New[string, session.Session](refreshEntries),
		failed: ttlcache.New[string, struct{}](refreshEntries)}
}

func (c *refreshCache) get(id string) *session.Session {
	s, ok := c.done.Get(id, c.now())
	if !ok {
		return nil
	}
	return &s
}

func (c *refreshCache) put(s *session.Session) { c.done.Put(s.ID, *s, c.now().Add(refreshCacheTTL)) }

func (c *refreshCache) fail(id string) { c.failed.Put(id, struct{}{}, c.now().Add(refreshBackoff)) }

func (c *refreshCache) backingOff(id string) bool {
	_, ok := c.failed.Get(id, c.now())
	return ok
}
