package bearer

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-logr/logr"
)

// Discovery is retried in the background from firstRetry, doubling up to maxRetry, and on demand by
// Verify at most once per onDemandRetry.
const (
	firstRetry    = time.Second
	maxRetry      = 30 * time.Second
	onDemandRetry = time.Second
)

// kubeJWKSPath is where a Kubernetes API server serves its ServiceAccount issuer's keys.
const kubeJWKSPath = "/openid/v1/jwks"

// remoteIssuer is one issuer whose tokens are verified offline: its discovery document names the
// JWKS, and go-oidc's verifier checks signature, alg and iss with those keys.
type remoteIssuer struct {
	cfg    Issuer
	kube   bool // the cluster's ServiceAccount issuer: groups come from sub
	client *http.Client
	now    func() time.Time
	leeway time.Duration
	log    logr.Logger

	ready    atomic.Bool // discovered: Ready reads it without the lock
	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	keys     *keySet
	lastTry  time.Time // an on-demand attempt started
	lastErr  error     // of the last attempt
	inflight chan struct{}
}

// discovered returns the verifier and keys once discovery has succeeded, else tries it now: at
// most once per onDemandRetry, or by waiting for the attempt in flight.
func (r *remoteIssuer) discovered(ctx context.Context) (*oidc.IDTokenVerifier, *keySet, error) {
	if err := r.attempt(ctx, true); err != nil {
		return nil, nil, fmt.Errorf("%w: issuer %s: %w", ErrUnavailable, r.cfg.URL, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.verifier, r.keys, nil
}

// retry runs discovery in the background until it succeeds or ctx ends (Close).
func (r *remoteIssuer) retry(ctx context.Context) {
	delay := firstRetry
	for {
		err := r.attempt(ctx, false)
		if err == nil || ctx.Err() != nil {
			return
		}
		r.log.Error(err, "OIDC discovery failed; retrying", "retryIn", delay.String())
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, maxRetry)
	}
}

// attempt discovers the issuer, or waits for the attempt in flight (background and on-demand
// attempts share one). A new on-demand attempt starts at most once per onDemandRetry.
func (r *remoteIssuer) attempt(ctx context.Context, onDemand bool) error {
	r.mu.Lock()
	if r.verifier != nil {
		r.mu.Unlock()
		return nil
	}
	done := r.inflight
	if done == nil {
		now := r.now()
		if onDemand && !r.lastTry.IsZero() && now.Sub(r.lastTry) < onDemandRetry && r.lastErr != nil {
			err := r.lastErr
			r.mu.Unlock()
			return err
		}
		if onDemand {
			r.lastTry = now
		}
		done = make(chan struct{})
		r.inflight = done
		go func() {
			// Detached from ctx: other requests wait for this attempt too.
			err := r.discover(context.WithoutCancel(ctx))
			r.mu.Lock()
			r.lastErr, r.inflight = err, nil
			r.mu.Unlock()
			close(done)
		}()
	}
	r.mu.Unlock()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-done:
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.verifier != nil {
		return nil
	}
	return r.lastErr
}

// discover fetches the discovery document itself rather than through oidc.NewProvider: with a
// DiscoveryURL, NewProvider would need InsecureIssuerURLContext, which skips the check that the
// document names the configured issuer; here that check always holds. It also bounds the document's
// size. The first JWKS fetch is part of discovery, so Ready means tokens can be verified.
func (r *remoteIssuer) discover(ctx context.Context) error {
	base := r.cfg.URL
	if r.cfg.DiscoveryURL != "" {
		base = r.cfg.DiscoveryURL
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := getJSON(ctx, r.client, strings.TrimSuffix(base, "/")+"/.well-known/openid-configuration", &doc); err != nil {
		return err
	}
	if doc.Issuer != r.cfg.URL {
		return fmt.Errorf("the discovery document names issuer %q, not %q", clip(doc.Issuer), r.cfg.URL)
	}
	jwks, err := r.jwksURL(doc.JWKSURI)
	if err != nil {
		return err
	}
	keys := &keySet{url: jwks, client: r.client, now: r.now, log: r.log}
	if err := keys.load(ctx); err != nil {
		return err
	}
	verifier := oidc.NewVerifier(r.cfg.URL, keys, &oidc.Config{
		SkipClientIDCheck:    true, // go-oidc checks one client id; claims.go checks the configured audiences
		SkipExpiryCheck:      true, // go-oidc has no leeway; claims.go checks exp, nbf and iat with it
		SupportedSigningAlgs: allowedAlgs,
		Now:                  r.now,
	})
	r.mu.Lock()
	r.verifier, r.keys = verifier, keys
	r.mu.Unlock()
	r.ready.Store(true)
	r.log.Info("OIDC issuer discovered", "jwksURI", jwks, "keys", len(keys.snapshot()))
	return nil
}

// jwksURL checks the document's jwks_uri and, with a DiscoveryURL, moves one under the issuer's URL
// to the same place under the DiscoveryURL: an issuer reachable only through its DiscoveryURL serves
// its keys there too (a cluster's https://kubernetes.default.svc.cluster.local/openid/v1/jwks is
// https://kubernetes.default.svc/openid/v1/jwks).
func (r *remoteIssuer) jwksURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("the discovery document's jwks_uri %q is not an absolute http(s) URL", clip(raw))
	}
	if r.cfg.DiscoveryURL == "" {
		return raw, nil
	}
	if r.kube {
		// The API server serves its keys at this path whatever jwks_uri it advertises; that one is
		// --service-account-jwks-uri or built from its advertise address, for consumers outside the
		// cluster, and often unreachable from a pod (in envtest: the host's interface address, while
		// the API server listens on 127.0.0.1).
		return strings.TrimSuffix(r.cfg.DiscoveryURL, "/") + kubeJWKSPath, nil
	}
	iss := strings.TrimSuffix(r.cfg.URL, "/")
	if rest, ok := strings.CutPrefix(raw, iss); ok && (rest == "" || strings.HasPrefix(rest, "/")) {
		return strings.TrimSuffix(r.cfg.DiscoveryURL, "/") + rest, nil
	}
	return raw, nil
}

// verify checks a token of this issuer and maps its claims to an identity.
func (r *remoteIssuer) verify(ctx context.Context, raw string, p peeked) (Identity, error) {
	verifier, keys, err := r.discovered(ctx)
	if err != nil {
		return Identity{}, err
	}
	if err := keys.ensure(ctx, p.kid); err != nil {
		return Identity{}, err
	}
	tok, err := verifier.Verify(ctx, raw)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return r.identity(tok)
}
