package authn

import (
	"context"
	"errors"

	"github.com/kfgate/kfgate/authn/bearer"
)

// bearerCheck verifies an Authorization: Bearer token. An invalid token is a 401 and never falls
// back to a session cookie: a client that sends a token means that token.
func (a *Authorizer) bearerCheck(ctx context.Context, r *Request, raw string) Outcome {
	bid, err := a.d.Bearer.Verify(ctx, raw)
	switch {
	case errors.Is(err, bearer.ErrUnavailable):
		a.d.Log.Error(err, "verifying a bearer token")
		return unavailable(reasonIDPUnavailable, "The token's issuer cannot be reached to verify it. Try again in a few minutes.")
	case err != nil:
		a.d.Log.V(1).Info("bearer token rejected", "reason", err.Error())
		return unauthorized(reasonBearerInvalid, "The bearer token is not valid.")
	}
	id := &Identity{User: bid.User, Groups: bid.Groups, Via: "bearer"}
	return a.authorize(ctx, r, id, bid.User, reasonBearer, nil)
}
