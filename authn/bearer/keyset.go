package bearer

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-logr/logr"
)

const (
	// minRefetch: an unknown kid fetches the JWKS again at most this often, so that tokens with
	// made-up key ids cannot turn every request into a request to the issuer.
	minRefetch = time.Second
	// maxKeyAge: keys are fetched again after this long even when every kid is known, so that a key
	// the issuer withdrew (compromised, rotated out) stops verifying.
	maxKeyAge = 10 * time.Minute
	// minRSABits: shorter RSA keys in a JWKS are ignored.
	minRSABits = 2048
)

// joseAlgs is allowedAlgs for go-jose.
var joseAlgs = func() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(allowedAlgs))
	for i, a := range allowedAlgs {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}()

// keySet is an issuer's JWKS. It replaces go-oidc's RemoteKeySet, which fetches the JWKS again for
// every token whose signature fails with the cached keys (any made-up kid or tampered token, with no
// rate limit), reads the response without a size limit, and reports an unreachable issuer in the
// same way as a bad signature. Here an unknown kid fetches again at most once per minRefetch
// (requests arriving meanwhile wait for the fetch in flight), and ensure tells ErrUnavailable from
// ErrInvalidToken before go-oidc's verifier runs.
type keySet struct {
	url    string
	client *http.Client
	now    func() time.Time
	log    logr.Logger

	mu       sync.Mutex
	keys     []jose.JSONWebKey
	fetched  time.Time // last successful fetch
	tried    time.Time // last fetch started
	lastErr  error     // of the last fetch
	inflight chan struct{}
}

// VerifySignature implements oidc.KeySet with the keys fetched so far (ensure fetches).
func (k *keySet) VerifySignature(_ context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, joseAlgs)
	if err != nil {
		return nil, err
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("want exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	for _, key := range k.snapshot() {
		if kid != "" && key.KeyID != kid {
			continue
		}
		if payload, err := jws.Verify(&key); err == nil {
			return payload, nil
		}
	}
	return nil, errors.New("no key of the issuer verifies the signature")
}

func (k *keySet) snapshot() []jose.JSONWebKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys
}

// hasKid reports whether a key with this kid is known (any key, for a token without kid).
func hasKid(keys []jose.JSONWebKey, kid string) bool {
	if kid == "" {
		return len(keys) > 0
	}
	return slices.ContainsFunc(keys, func(key jose.JSONWebKey) bool { return key.KeyID == kid })
}

// ensure makes sure a key for kid is known before the signature is checked. An unknown kid (the
// issuer rotated its keys) fetches the JWKS and waits for it; keys older than maxKeyAge are fetched
// again in the background while the old ones keep verifying.
func (k *keySet) ensure(ctx context.Context, kid string) error {
	k.mu.Lock()
	now := k.now()
	known := hasKid(k.keys, kid)
	if known && now.Sub(k.fetched) < maxKeyAge {
		k.mu.Unlock()
		return nil
	}
	done := k.inflight
	if done == nil {
		if !k.tried.IsZero() && now.Sub(k.tried) < minRefetch {
			anyKey, lastErr := len(k.keys) > 0, k.lastErr
			k.mu.Unlock()
			switch {
			case known:
				return nil
			case !anyKey && lastErr != nil:
				return fmt.Errorf("%w: %w", ErrUnavailable, lastErr)
			}
			return invalidf("the issuer has no key with kid %q", clip(kid))
		}
		done = k.startLocked(ctx)
	}
	k.mu.Unlock()
	if known {
		return nil
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	case <-done:
	}
	k.mu.Lock()
	known, lastErr := hasKid(k.keys, kid), k.lastErr
	k.mu.Unlock()
	switch {
	case known:
		return nil
	case lastErr != nil:
		return fmt.Errorf("%w: fetching keys: %w", ErrUnavailable, lastErr)
	}
	return invalidf("the issuer has no key with kid %q", clip(kid))
}

// load fetches the keys (or waits for the fetch in flight) regardless of minRefetch: discovery's
// first fetch.
func (k *keySet) load(ctx context.Context) error {
	k.mu.Lock()
	done := k.inflight
	if done == nil {
		done = k.startLocked(ctx)
	}
	k.mu.Unlock()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-done:
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.keys) == 0 && k.lastErr == nil {
		return errNoKeys
	}
	return k.lastErr
}

// startLocked starts a fetch; k.mu is held. The fetch is detached from ctx's cancellation, since
// other requests wait for it too; the client's timeout bounds it.
func (k *keySet) startLocked(ctx context.Context) chan struct{} {
	done := make(chan struct{})
	k.inflight, k.tried = done, k.now()
	had := len(k.keys) > 0
	go func() {
		keys, err := k.fetch(context.WithoutCancel(ctx))
		k.mu.Lock()
		k.lastErr = err
		if err == nil {
			k.keys, k.fetched = keys, k.now()
		}
		k.inflight = nil
		k.mu.Unlock()
		close(done)
		if err != nil && had {
			k.log.Error(err, "refreshing an issuer's keys failed; keeping the old ones", "jwksURI", k.url)
		}
	}()
	return done
}

// fetch reads the JWKS, keeping the public signing keys of allowed algorithms and skipping others
// (an issuer may publish encryption keys or key types this verifier does not use).
func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := getJSON(ctx, k.client, k.url, &doc); err != nil {
		return nil, err
	}
	var keys []jose.JSONWebKey
	skipped := 0
	for _, raw := range doc.Keys {
		var key jose.JSONWebKey
		if err := json.Unmarshal(raw, &key); err != nil || !usable(key) {
			skipped++
			continue
		}
		keys = append(keys, key)
	}
	if skipped > 0 {
		k.log.V(1).Info("skipped keys of a JWKS", "jwksURI", k.url, "skipped", skipped, "kept", len(keys))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("GET %s: %w", k.url, errNoKeys)
	}
	return keys, nil
}

func usable(key jose.JSONWebKey) bool {
	if !key.Valid() || !key.IsPublic() || (key.Use != "" && key.Use != "sig") {
		return false
	}
	if key.Algorithm != "" && !slices.Contains(allowedAlgs, key.Algorithm) {
		return false
	}
	if pub, ok := key.Key.(*rsa.PublicKey); ok && pub.N.BitLen() < minRSABits {
		return false
	}
	return true
}
