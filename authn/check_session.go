package authn

import (
	"context"
	"errors"
	"net/http"

	"github.com/kfgate/kfgate/authn/session"
)

// sessionCheck lets a request with a valid session through (refreshing its tokens when they are
// about to expire), and otherwise starts a login for a browser or answers 401 to anything else.
func (a *Authorizer) sessionCheck(ctx context.Context, r *Request) Outcome {
	s, err := a.d.Store.Load(ctx, r.Cookies)
	var clear []*http.Cookie
	switch {
	case err == nil:
		return a.withSession(ctx, r, s)
	case errors.Is(err, session.ErrNoSession):
	case errors.Is(err, session.ErrUnavailable):
		a.d.Log.Error(err, "loading a session")
		return unavailable(reasonStoreError, "Your session cannot be read right now. Try again in a few minutes.")
	default:
		// Tampered, expired, revoked or sealed with a retired key: the same as none, and cleared.
		a.d.Log.V(1).Info("session rejected", "reason", err.Error())
		clear = a.clearSession(ctx, r)
	}
	if browserNavigation(r, a.cfg.APIPrefixes) {
		return a.startLogin(r, clear)
	}
	return unauthorized(reasonNoSession, "Sign in, or send a bearer token.", clear...)
}

func (a *Authorizer) clearSession(ctx context.Context, r *Request) []*http.Cookie {
	cs, err := a.d.Store.Delete(ctx, r.Cookies)
	if err != nil {
		a.d.Log.Error(err, "deleting a session")
	}
	return cs
}

func (a *Authorizer) withSession(ctx context.Context, r *Request, s *session.Session) Outcome {
	now := a.d.Now()
	var cookies []*http.Cookie
	if a.needsRefresh(s, now) && !a.refresh.backingOff(s.ID) {
		fresh, cs, ok := a.refreshSession(ctx, r, s)
		if !ok {
			// The provider said no: the session is gone, sign in again.
			if browserNavigation(r, a.cfg.APIPrefixes) {
				return a.startLogin(r, cs)
			}
			return unauthorized(reasonNoSession, "Your session has ended. Sign in again.", cs...)
		}
		s, cookies = fresh, cs
	} else if a.d.Store.Touch(s) {
		cs, err := a.d.Store.Save(ctx, s, r.Cookies)
		if err != nil {
			a.d.Log.Error(err, "saving a session")
		}
		cookies = cs
	}
	id := sessionIdentity(s, a.cfg.Identity.UserPrefix, a.cfg.Identity.ForwardIDToken)
	return a.authorize(ctx, r, id, s.User, reasonSession, cookies)
}
