package bearer

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/singleflight"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"

	"github.com/kfgate/kfgate/authn/internal/ttlcache"
)

const (
	// maxReviews bounds the TokenReview cache; beyond it the oldest result goes.
	maxReviews = 10000
	// rejectedTTL: a rejected token is answered from the cache for this long at most, so that a client
	// retrying a bad token does not hit the API server on every request, yet a token that just became
	// valid (its ServiceAccount was created) is not refused for long.
	rejectedTTL = time.Second
	// reviewTimeout bounds one TokenReview.
	reviewTimeout = 10 * time.Second
)

// reviewer asks the API server about ServiceAccount tokens.
type reviewer struct {
	api       authv1client.TokenReviewInterface
	issuer    string // when set, only tokens with this iss are reviewed
	audiences []string
	prefix    string
	ttl       time.Duration
	now       func() time.Time
	cache     *ttlcache.Cache[[sha256.Size]byte, reviewed]
	flight    singleflight.Group
	// slots caps the TokenReviews in flight: unauthenticated clients choose the tokens.
	slots chan struct{}
}

// maxReviewsInFlight bounds concurrent TokenReviews; more wait for a slot until their deadline.
const maxReviewsInFlight = 16

// reviewed is a TokenReview's answer: an identity, or why the token was rejected.
type reviewed struct {
	id  Identity
	err error
}

func (r *reviewer) takes(iss string) bool { return r.issuer == "" || iss == r.issuer }

// review answers from the cache (keyed by the token's SHA-256: the token itself is never kept) or
// sends one TokenReview, shared by concurrent requests with the same token. API errors are not
// cached.
func (r *reviewer) review(ctx context.Context, raw string, p peeked) (Identity, error) {
	key := sha256.Sum256([]byte(raw))
	if res, ok := r.cache.Get(key, r.now()); ok {
		return res.identity()
	}
	ch := r.flight.DoChan(string(key[:]), func() (any, error) {
		select {
		case r.slots <- struct{}{}:
			defer func() { <-r.slots }()
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: too many TokenReviews in flight: %w", ErrUnavailable, ctx.Err())
		}
		// Shared by every caller with this token: one caller's cancellation must not fail the rest.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reviewTimeout)
		defer cancel()
		tr := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: raw, Audiences: r.audiences}}
		res, err := r.api.Create(rctx, tr, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("%w: TokenReview: %w", ErrUnavailable, err)
		}
		out := r.result(res.Status, p)
		now := r.now()
		expires := now.Add(r.ttl)
		switch {
		case out.err != nil:
			expires = now.Add(min(rejectedTTL, r.ttl))
		case !p.exp.IsZero() && p.exp.Before(expires):
			expires = p.exp // never answer for a token past its expiry
		}
		r.cache.Put(key, out, expires)
		return out, nil
	})
	select {
	case <-ctx.Done():
		return Identity{}, fmt.Errorf("%w: TokenReview: %w", ErrUnavailable, ctx.Err())
	case res := <-ch:
		if res.Err != nil {
			return Identity{}, res.Err
		}
		return res.Val.(reviewed).identity()
	}
}

// identity returns a copy, so that a caller changing the groups does not change the cache.
func (r reviewed) identity() (Identity, error) {
	id := r.id
	id.Groups = slices.Clone(id.Groups)
	return id, r.err
}

// result maps the API server's answer.
func (r *reviewer) result(st authenticationv1.TokenReviewStatus, p peeked) reviewed {
	if !st.Authenticated {
		why := st.Error
		if why == "" {
			why = "no reason given"
		}
		return reviewed{err: invalidf("the API server did not authenticate the token: %s", clip(why))}
	}
	// The API server returns the requested audiences the token is valid for; an authenticator that
	// cannot check audiences returns none, which must not pass.
	if len(r.audiences) > 0 && !slices.ContainsFunc(st.Audiences, func(a string) bool { return slices.Contains(r.audiences, a) }) {
		return reviewed{err: invalidf("the TokenReview's audiences %q include none of the configured ones", clipAll(st.Audiences))}
	}
	if st.User.Username == "" || hasControl(st.User.Username) {
		return reviewed{err: invalidf("the TokenReview has no usable user name")}
	}
	return reviewed{id: Identity{
		User:    r.prefix + st.User.Username,
		Groups:  slices.Clone(st.User.Groups),
		Issuer:  p.iss, // the token is authenticated, so its claims are the issuer's
		Subject: st.User.Username,
		Expiry:  p.exp,
	}}
}
