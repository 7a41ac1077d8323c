package bearer

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	authv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"

	"github.com/kfgate/kfgate/authn/internal/ttlcache"
)

// Options are the Verifier's dependencies.
type Options struct {
	// HTTPClient fetches discovery documents and keys; default: one with a 10s timeout. An issuer
	// with a CAFile gets a copy with its own transport.
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Log gets discovery progress and failures, never tokens.
	Log logr.Logger
	// TokenReviews is required in tokenreview mode.
	TokenReviews authv1client.TokenReviewInterface
	// KubeHTTPClient is for discovery mode inside a cluster: it trusts the cluster CA and sends the
	// pod's ServiceAccount token (rest.HTTPClientFor). It is used only for requests to
	// Kubernetes.DiscoveryURL's host; without a DiscoveryURL it is not used at all.
	KubeHTTPClient *http.Client
	// Remember is how long a verified JWT is remembered (by its SHA-256, never the token), so that a
	// client sending the same token again is not verified again: at most this long, never past the
	// token's exp. 0 means DefaultRemember; negative turns it off.
	Remember time.Duration
}

// DefaultRemember bounds how long a verified token is taken on trust: a key withdrawn from the
// JWKS stops working within it.
const DefaultRemember = 2 * time.Minute

// Verifier verifies bearer tokens. It is safe for concurrent use.
type Verifier struct {
	issuers map[string]*remoteIssuer // by iss
	review  *reviewer                // nil unless tokenreview mode
	stop    context.CancelFunc
	once    sync.Once
	// verified remembers verified JWTs (Options.Remember); nil when off.
	verified *ttlcache.Cache[[sha256.Size]byte, Identity]
	remember time.Duration
	now      func() time.Time
}

const maxVerified = 10000

// New builds a Verifier from a validated Config (see Config.Validate). It does not wait for the
// network: each issuer is discovered in the background, retried with backoff, and until that
// succeeds its tokens get ErrUnavailable. Close stops the background work.
func New(cfg Config, o Options) (*Verifier, error) {
	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	v := &Verifier{issuers: map[string]*remoteIssuer{}, now: o.Now, remember: o.Remember}
	if v.remember == 0 {
		v.remember = DefaultRemember
	}
	if v.remember > 0 {
		v.verified = ttlcache.New[[sha256.Size]byte, Identity](maxVerified)
	}
	for i, is := range cfg.Issuers {
		client := o.HTTPClient
		if is.CAFile != "" {
			var err error
			if client, err = withCAFile(o.HTTPClient, is.CAFile); err != nil {
				return nil, fmt.Errorf("bearer.issuers[%d].caFile: %w", i, err)
			}
		}
		if err := v.add(is, false, client, cfg.Leeway, o); err != nil {
			return nil, fmt.Errorf("bearer.issuers[%d]: %w", i, err)
		}
	}
	k := cfg.Kubernetes
	switch k.Mode {
	case ModeOff:
	case ModeDiscovery:
		client := o.HTTPClient
		if o.KubeHTTPClient != nil && k.DiscoveryURL != "" {
			var err error
			if client, err = kubeClient(o.HTTPClient, o.KubeHTTPClient, k.DiscoveryURL); err != nil {
				return nil, fmt.Errorf("bearer.kubernetes.discoveryURL: %w", err)
			}
		}
		is := Issuer{URL: k.Issuer, Audiences: k.Audiences, UserClaim: "sub", UserPrefix: k.UserPrefix, DiscoveryURL: k.DiscoveryURL}
		if err := v.add(is, true, client, cfg.Leeway, o); err != nil {
			return nil, fmt.Errorf("bearer.kubernetes: %w", err)
		}
	case ModeTokenReview:
		if o.TokenReviews == nil {
			return nil, errors.New("bearer.kubernetes.mode tokenreview needs a TokenReview client")
		}
		ttl := k.CacheTTL
		if ttl == 0 {
			ttl = DefaultReviewTTL
		}
		v.review = &reviewer{api: o.TokenReviews, issuer: k.Issuer, audiences: k.Audiences, prefix: k.UserPrefix,
			ttl: ttl, now: o.Now, cache: ttlcache.New[[sha256.Size]byte, reviewed](maxReviews),
			slots: make(chan struct{}, maxReviewsInFlight)}
	default:
		return nil, fmt.Errorf("bearer.kubernetes.mode %q is unknown (was the Config validated?)", k.Mode)
	}
	var ctx context.Context
	ctx, v.stop = context.WithCancel(context.Background()) //nolint:gosec // G118: Close calls it
	for _, r := range v.issuers {
		go r.retry(ctx)
	}
	return v, nil
}

func (v *Verifier) add(is Issuer, kube bool, client *http.Client, leeway time.Duration, o Options) error {
	if is.URL == "" || len(is.Audiences) == 0 {
		return errors.New("the issuer needs a url and at least one audience (was the Config validated?)")
	}
	if _, dup := v.issuers[is.URL]; dup {
		return fmt.Errorf("issuer %q is configured twice", is.URL)
	}
	if is.UserClaim == "" {
		is.UserClaim = DefaultUserClaim
	}
	if is.GroupsClaim == "" && !kube {
		is.GroupsClaim = DefaultGroupsClaim
	}
	v.issuers[is.URL] = &remoteIssuer{cfg: is, kube: kube, client: client, now: o.Now, leeway: leeway,
		log: o.Log.WithValues("issuer", is.URL)}
	return nil
}

// Verify checks a bearer token and returns its identity. Errors wrap ErrUnknownIssuer,
// ErrInvalidToken or ErrUnavailable.
func (v *Verifier) Verify(ctx context.Context, raw string) (Identity, error) {
	p, err := peek(raw)
	if err != nil {
		return Identity{}, err
	}
	if is, ok := v.issuers[p.iss]; ok {
		return v.verifyRemembered(ctx, is, raw, p)
	}
	if v.review != nil && v.review.takes(p.iss) {
		return v.review.review(ctx, raw, p)
	}
	return Identity{}, fmt.Errorf("%w: iss %q", ErrUnknownIssuer, clip(p.iss))
}

// verifyRemembered verifies a JWT of a configured issuer, or takes it on trust when it was verified
// less than Remember ago. Failures are not remembered.
func (v *Verifier) verifyRemembered(ctx context.Context, is *remoteIssuer, raw string, p peeked) (Identity, error) {
	if v.verified == nil {
		return is.verify(ctx, raw, p)
	}
	key := sha256.Sum256([]byte(raw))
	now := v.now()
	if id, ok := v.verified.Get(key, now); ok {
		return id, nil
	}
	id, err := is.verify(ctx, raw, p)
	if err != nil {
		return id, err
	}
	until := now.Add(v.remember)
	if !id.Expiry.IsZero() && id.Expiry.Before(until) {
		until = id.Expiry
	}
	v.verified.Put(key, id, until)
	return id, nil
}

// Enabled reports whether any issuer or Kubernetes mode is configured.
func (v *Verifier) Enabled() bool {
	return len(v.issuers) > 0 || v.review != nil
}

// Ready reports whether every issuer has been discovered (and its keys fetched).
func (v *Verifier) Ready() bool {
	for _, is := range v.issuers {
		if !is.ready.Load() {
			return false
		}
	}
	return true
}

// Close stops the background discovery. Verify keeps working for issuers already discovered, and
// still discovers the others on demand.
func (v *Verifier) Close() {
	v.once.Do(v.stop)
}
