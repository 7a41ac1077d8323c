package bearer

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// newVerifier validates cfg and builds a Verifier on the test clock, closed at the end of the test.
func newVerifier(t testing.TB, cfg Config, clk *clock, o Options) *Verifier {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	o.Now = clk.Now
	v, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

func issuerConfig(ti *testIssuer) Config {
	return Config{Issuers: []Issuer{{URL: ti.iss, Audiences: []string{"other", "kfgate"}, UserPrefix: "oidc:"}}}
}

// wantErr checks that err wraps want and, when reason is set, says it.
func wantErr(t testing.TB, err, want error, reason string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
	if reason != "" && !strings.Contains(err.Error(), reason) {
		t.Fatalf("error %q does not say %q", err, reason)
	}
}

func TestVerifyClaims(t *testing.T) {
	clk := newClock()
	ti := newTestIssuer(t, key(t, "rsa-1"), key(t, "ec-1"))
	v := newVerifier(t, issuerConfig(ti), clk, Options{})
	now := clk.Now()
	cases := []struct {
		name   string
		key    string
		over   map[string]any
		groups []string // when the token verifies
		reason string   // when it does not
	}{
		{name: "valid RS256", groups: []string{"team-a", "team-b"}},
		{name: "valid ES256", key: "ec-1", groups: []string{"team-a", "team-b"}},
		{name: "audience list with one configured", over: map[string]any{"aud": []string{"x", "kfgate"}}, groups: []string{"team-a", "team-b"}},
		{name: "groups as one string", over: map[string]any{"groups": "admins"}, groups: []string{"admins"}},
		{name: "no groups claim", over: map[string]any{"groups": nil}},
		{name: "email_verified absent", over: map[string]any{"email_verified": nil}, groups: []string{"team-a", "team-b"}},
		{name: "email_verified string true", over: map[string]any{"email_verified": "true"}, groups: []string{"team-a", "team-b"}},
		{name: "expired within leeway", over: map[string]any{"exp": now.Add(-30 * time.Second).Unix()}, groups: []string{"team-a", "team-b"}},
		{name: "nbf within leeway", over: map[string]any{"nbf": now.Add(30 * time.Second).Unix()}, groups: []string{"team-a", "team-b"}},
		{name: "nbf past", over: map[string]any{"nbf": now.Add(-time.Hour).Unix()}, groups: []string{"team-a", "team-b"}},

		{name: "wrong audience", over: map[string]any{"aud": "someone-else"}, reason: "none of the configured audiences"},
		{name: "no audience", over: map[string]any{"aud": nil}, reason: "none of the configured audiences"},
		{name: "expired beyond leeway", over: map[string]any{"exp": now.Add(-61 * time.Second).Unix()}, reason: "expired"},
		{name: "expired exactly at leeway", over: map[string]any{"exp": now.Add(-60 * time.Second).Unix()}, reason: "expired"},
		{name: "no exp", over: map[string]any{"exp": nil}, reason: "exp claim is missing"},
		{name: "nbf in the future", over: map[string]any{"nbf": now.Add(2 * time.Minute).Unix()}, reason: "not valid before"},
		{name: "nbf not a number", over: map[string]any{"nbf": "soon"}, reason: "claims"},
		{name: "iat in the future", over: map[string]any{"iat": now.Add(2 * time.Minute).Unix()}, reason: "issued in the future"},
		{name: "email with two @", over: map[string]any{"email": "alice@evil.example@example.com"}, reason: "exactly one '@'"},
		{name: "email without @", over: map[string]any{"email": "alice"}, reason: "exactly one '@'"},
		{name: "email with empty domain", over: map[string]any{"email": "alice@"}, reason: "exactly one '@'"},
		{name: "email_verified false", over: map[string]any{"email_verified": false}, reason: "email_verified is false"},
		{name: "email_verified string false", over: map[string]any{"email_verified": "false"}, reason: "email_verified is false"},
		{name: "email_verified a number", over: map[string]any{"email_verified": 1}, reason: "email_verified"},
		{name: "email missing", over: map[string]any{"email": nil}, reason: `claim "email" missing`},
		{name: "email not a string", over: map[string]any{"email": 42}, reason: `claim "email" missing`},
		{name: "email empty", over: map[string]any{"email": ""}, reason: `claim "email" missing`},
		{name: "email with a newline", over: map[string]any{"email": "alice@example.com\nx-admin: 1"}, reason: "control characters"},
		{name: "groups a number", over: map[string]any{"groups": 7}, reason: `claim "groups"`},
		{name: "groups with a non-string", over: map[string]any{"groups": []any{"a", 1}}, reason: `claim "groups"`},
		{name: "groups with an empty one", over: map[string]any{"groups": []string{"a", ""}}, reason: `claim "groups"`},
		{name: "a system: group", over: map[string]any{"groups": []string{"team-a", "system:masters"}}, reason: `group "system:masters" uses the reserved prefix`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kid := tc.key
			if kid == "" {
				kid = "rsa-1"
			}
			raw := key(t, kid).sign(t, ti.claims(now, tc.over))
			id, err := v.Verify(t.Context(), raw)
			if tc.reason != "" {
				wantErr(t, err, ErrInvalidToken, tc.reason)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.User != "oidc:alice@example.com" || !slices.Equal(id.Groups, tc.groups) || id.Issuer != ti.iss ||
				id.Subject != "CgVhbGljZRIFbG9jYWw" || id.Expiry.IsZero() {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

func TestVerifyCustomClaims(t *testing.T) {
	clk := newClock()
	ti := newTestIssuer(t, key(t, "rsa-1"))
	cfg := Config{Issuers: []Issuer{{URL: ti.iss, Audiences: []string{"kfgate"}, UserClaim: "preferred_username", GroupsClaim: "roles"}}}
	v := newVerifier(t, cfg, clk, Options{})
	// The email checks apply to the email claim only.
	raw := key(t, "rsa-1").sign(t, ti.claims(clk.Now(), map[string]any{"preferred_username": "alice", "roles": []string{"r"},
		"email": "x@y@z", "email_verified": false}))
	id, err := v.Verify(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if id.User != "alice" || !slices.Equal(id.Groups, []string{"r"}) {
		t.Fatalf("identity %+v", id)
	}
	// Without a prefix, a user name in Kubernetes' reserved namespace is refused.
	raw = key(t, "rsa-1").sign(t, ti.claims(clk.Now(), map[string]any{"preferred_username": "system:kube-scheduler"}))
	_, err = v.Verify(t.Context(), raw)
	wantErr(t, err, ErrInvalidToken, `user "system:kube-scheduler" uses the reserved prefix`)
}

func TestVerifyUnknownIssuer(t *testing.T) {
	clk := newClock()
	ti := newTestIssuer(t, key(t, "rsa-1"))
	v := newVerifier(t, issuerConfig(ti), clk, Options{})
	for _, iss := range []string{"https://other.example", ti.iss + "/", strings.ToUpper(ti.iss)} {
		raw := key(t, "rsa-1").sign(t, ti.claims(clk.Now(), map[string]any{"iss": iss}))
		_, err := v.Verify(t.Context(), raw)
		wantErr(t, err, ErrUnknownIssuer, "")
	}
}

func TestVerifyForgeries(t *testing.T) {
	clk := newClock()
	ti := newTestIssuer(t, key(t, "rsa-1"))
	v := newVerifier(t, issuerConfig(ti), clk, Options{})
	claims := ti.claims(clk.Now(), nil)
	good := key(t, "rsa-1").sign(t, claims)
	if _, err := v.Verify(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")

	t.Run("alg none", func(t *testing.T) {
		raw := handMade(t, map[string]any{"alg": "none", "typ": "JWT"}, claims, func(string) []byte { return nil })
		_, err := v.Verify(t.Context(), raw)
		wantErr(t, err, ErrInvalidToken, "")
		raw = handMade(t, map[string]any{"alg": "none", "typ": "JWT"}, claims, func(string) []byte { return []byte("x") })
		_, err = v.Verify(t.Context(), raw)
		wantErr(t, err, ErrInvalidToken, `alg "none" is not allowed`)
	})
	t.Run("HS256 with the public key as secret", func(t *testing.T) {
		header := map[string]any{"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
		raw := handMade(t, header, claims, hs256(key(t, "rsa-1").publicPEM(t)))
		_, err := v.Verify(t.Context(), raw)
		wantErr(t, err, ErrInvalidToken, `alg "HS256" is not allowed`)
		// The key set refuses it too, should the header check ever be bypassed.
		is := v.issuers[ti.iss]
		if _, err := is.keys.VerifySignature(t.Context(), raw); err == nil {
			t.Fatal("the key set verified an HS256 token")
		}
	})
	t.Run("tampered signature", func(t *testing.T) {
		sig := []byte(parts[2])
		mid := len(sig) / 2
		sig[mid] = map[bool]byte{true: 'B', false: 'A'}[sig[mid] == 'A']
		_, err := v.Verify(t.Context(), parts[0]+"."+parts[1]+"."+string(sig))
		wantErr(t, err, ErrInvalidToken, "signature")
	})
	t.Run("tampered payload", func(t *testing.T) {
		evil := handMade(t, map[string]any{"alg": "RS256", "kid": "rsa-1"}, ti.claims(clk.Now(), map[string]any{"email": "admin@example.com"}),
			func(string) []byte { return nil })
		evilParts := strings.Split(evil, ".")
		_, err := v.Verify(t.Context(), parts[0]+"."+evilParts[1]+"."+parts[2])
		wantErr(t, err, ErrInvalidToken, "signature")
	})
	t.Run("signed by another key with the trusted kid", func(t *testing.T) {
		impostor := &testKey{kid: "rsa-1", alg: key(t, "rsa-other").alg, priv: key(t, "rsa-other").priv}
		_, err := v.Verify(t.Context(), impostor.sign(t, claims))
		wantErr(t, err, ErrInvalidToken, "signature")
	})
	t.Run("signed by another issuer's key", func(t *testing.T) {
		_, err := v.Verify(t.Context(), key(t, "rsa-other").sign(t, claims))
		wantErr(t, err, ErrInvalidToken, `no key with kid "rsa-other"`)
	})
}

func TestVerifyMalformed(t *testing.T) {
	clk := newClock()
	ti := newTestIssuer(t, key(t, "rsa-1"))
	v := newVerifier(t, issuerConfig(ti), clk, Options{})
	good := key(t, "rsa-1").sign(t, ti.claims(clk.Now(), nil))
	parts := strings.Split(good, ".")
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for name, raw := range map[string]string{
		"empty":                "",
		"one part":             "abc",
		"two parts":            parts[0] + "." + parts[1],
		"four parts":           good + ".x",
		"JWE (five parts)":     "a.b.c.d.e",
		"header not base64":    "!!." + parts[1] + "." + parts[2],
		"padded base64":        parts[0] + "=." + parts[1] + "." + parts[2],
		"payload not base64":   parts[0] + ".%%%." + parts[2],
		"signature not base64": parts[0] + "." + parts[1] + ".***",
		"no signature":         parts[0] + "." + parts[1] + ".",
		"header not JSON":      enc("nope") + "." + parts[1] + "." + parts[2],
		"header an array":      enc(`["RS256"]`) + "." + parts[1] + "." + parts[2],
		"header without alg":   enc(`{"kid":"rsa-1"}`) + "." + parts[1] + "." + parts[2],
		"kid not a string":     enc(`{"alg":"RS256","kid":1}`) + "." + parts[1] + "." + parts[2],
		"payload not JSON":     parts[0] + "." + enc("{") + "." + parts[2],
		"payload a string":     parts[0] + "." + enc(`"x"`) + "." + parts[2],
		"payload trailing":     parts[0] + "." + enc(`{"iss":"`+ti.iss+`"}{}`) + "." + parts[2],
		"no iss":               parts[0] + "." + enc(`{"sub":"x"}`) + "." + parts[2],
		"iss a number":         parts[0] + "." + enc(`{"iss":1}`) + "." + parts[2],
		"JSON serialization":   `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), raw)
			wantErr(t, err, ErrInvalidToken, "")
			if len(raw) > 20 && strings.Contains(err.Error(), raw) {
				t.Fatalf("the error contains the token: %v", err)
			}
		})
	}
	t.Run("huge", func(t *testing.T) {
		huge := parts[0] + "." + strings.Repeat("A", MaxTokenSize) + "." + parts[2]
		_, err := v.Verify(t.Context(), huge)
		wantErr(t, err, ErrInvalidToken, "more than 16384")
	})
}

// TestKeyRotation: a token with a kid the verifier has not seen makes it fetch the JWKS again (at most
// once per minRefetch), so a rotated key works without a restart; a withdrawn key stops working once
// the keys are older than maxKeyAge.
func TestKeyRotation(t *testing.T) {
	clk := newClock()
	ti := newTestIssuer(t, key(t, "rsa-1"))
	// Remember off: this test is about the keys; a remembered token outlives a withdrawn key by up to
	// Remember (TestRemember).
	v := newVerifier(t, issuerConfig(ti), clk, Options{Remember: -1})
	old := key(t, "rsa-1").sign(t, ti.claims(clk.Now(), nil))
	if _, err := v.Verify(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	hits := ti.jwksHits.Load()
	next := func() string { return key(t, "rsa-2").sign(t, ti.claims(clk.Now(), nil)) }

	// Just fetched: an unknown kid does not fetch again.
	_, err := v.Verify(t.Context(), next())
	wantErr(t, err, ErrInvalidToken, `no key with kid "rsa-2"`)
	if got := ti.jwksHits.Load(); got != hits {
		t.Fatalf("the JWKS was fetched %d times within minRefetch", got-hits)
	}
	// Later it does, once for many requests; the key is not there yet.
	clk.Advance(minRefetch)
	for range 5 {
		_, err = v.Verify(t.Context(), next())
		wantErr(t, err, ErrInvalidToken, `no key with kid "rsa-2"`)
	}
	if got := ti.jwksHits.Load(); got != hits+1 {
		t.Fatalf("the JWKS was fetched %d times, want 1", got-hits)
	}

	// The issuer rotates: rsa-2 signs, rsa-1 is still published for the tokens it signed.
	ti.publish(key(t, "rsa-2"), key(t, "rsa-1"))
	clk.Advance(minRefetch)
	if _, err := v.Verify(t.Context(), next()); err != nil {
		t.Fatalf("the rotated key: %v", err)
	}
	if _, err := v.Verify(t.Context(), old); err != nil {
		t.Fatalf("the old key while still published: %v", err)
	}

	// rsa-1 is withdrawn: once the cached keys are old, a request starts a refresh in the background
	// (it may still verify with the old keys), after which rsa-1 no longer verifies.
	ti.publish(key(t, "rsa-2"))
	clk.Advance(maxKeyAge)
	old = key(t, "rsa-1").sign(t, ti.claims(clk.Now(), nil))
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err = v.Verify(t.Context(), old)
		if errors.Is(err, ErrInvalidToken) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a withdrawn key still verifies: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Rejected either by ensure (no such kid) or, when the refresh landed in between, by the signature.
	wantErr(t, err, ErrInvalidToken, "")
	_, err = v.Verify(t.Context(), old)
	wantErr(t, err, ErrInvalidToken, `no key with kid "rsa-1"`)
	if _, err := v.Verify(t.Context(), next()); err != nil {
		t.Fatal(err)
	}
}

// TestKeysUnreachable: old keys keep verifying while the JWKS cannot be fetched; an unknown kid then
// is ErrUnavailable (it may be a rotation the verifier cannot see), not ErrInvalidToken.
func TestKeysUnreachable(t *testing.T) {
	clk := newClock()
	ti := newTestIssuer(t, key(t, "rsa-1"))
	v := newVerifier(t, issuerConfig(ti), clk, Options{})
	if _, err := v.Verify(t.Context(), key(t, "rsa-1").sign(t, ti.claims(clk.Now(), nil))); err != nil {
		t.Fatal(err)
	}
	ti.setDown(true)
	clk.Advance(maxKeyAge)
	if _, err := v.Verify(t.Context(), key(t, "rsa-1").sign(t, ti.claims(clk.Now(), nil))); err != nil {
		t.Fatalf("stale keys while the JWKS is down: %v", err)
	}
	clk.Advance(minRefetch)
	_, err := v.Verify(t.Context(), key(t, "rsa-2").sign(t, ti.claims(clk.Now(), nil)))
	wantErr(t, err, ErrUnavailable, "503")
}

// TestDiscoveryDownAtStart: New does not fail; tokens get ErrUnavailable until the issuer answers,
// then verify without a restart.
func TestDiscoveryDownAtStart(t *testing.T) {
	clk := newClock()
	ti := newTestIssuer(t, key(t, "rsa-1"))
	ti.setDown(true)
	v := newVerifier(t, issuerConfig(ti), clk, Options{})
	raw := key(t, "rsa-1").sign(t, ti.claims(clk.Now(), nil))
	_, err := v.Verify(t.Context(), raw)
	wantErr(t, err, ErrUnavailable, "503")
	if v.Ready() {
		t.Fatal("ready while the issuer is down")
	}
	// Within onDemandRetry, Verify does not try again.
	hits := ti.discoveryHits.Load()
	for range 5 {
		_, err = v.Verify(t.Context(), raw)
		wantErr(t, err, ErrUnavailable, "")
	}
	if got := ti.discoveryHits.Load(); got > hits+1 { // the background retry may have run once
		t.Fatalf("%d discovery requests within a second", got-hits)
	}

	ti.setDown(false)
	// A background attempt that began while the issuer was down may still be in flight and shared:
	// allow a second on-demand try.
	for try := 0; ; try++ {
		clk.Advance(onDemandRetry)
		_, err = v.Verify(t.Context(), raw)
		if err == nil {
			break
		}
		if try == 2 {
			t.Fatal(err)
		}
	}
	if !v.Ready() {
		t.Fatal("not ready after discovery")
	}
}

// TestBackgroundDiscovery: without any Verify, the background retry finds the issuer once it is up.
func TestBackgroundDiscovery(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the first retry (1s)")
	}
	ti := newTestIssuer(t, key(t, "rsa-1"))
	ti.setDown(true)
	v := newVerifier(t, issuerConfig(ti), newClock(), Options{})
	deadline := time.Now().Add(10 * time.Second)
	for ti.discoveryHits.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no discovery attempt")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ti.setDown(false)
	for !v.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("not ready: the background retry did not run")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	clk := newClock()
	ti := newTestIssuer(t, key(t, "rsa-1"))
	ti.docIssuer = "https://evil.example"
	v := newVerifier(t, issuerConfig(ti), clk, Options{})
	_, err := v.Verify(t.Context(), key(t, "rsa-1").sign(t, ti.claims(clk.Now(), nil)))
	wantErr(t, err, ErrUnavailable, `names issuer "https://evil.example"`)
}

// TestDiscoveryURL: the issuer's public URL is not reachable; discovery and keys come from the
// DiscoveryURL, and the document must still name the configured issuer.
func TestDiscoveryURL(t *testing.T) {
	clk := newClock()
	ti := newTestIssuer(t, key(t, "rsa-1"))
	ti.iss = "https://kubeflow.invalid/dex"
	cfg := Config{Issuers: []Issuer{{URL: ti.iss, Audiences: []string{"kfgate"}, DiscoveryURL: ti.srv.URL + "/dex"}}}
	v := newVerifier(t, cfg, clk, Options{})
	id, err := v.Verify(t.Context(), key(t, "rsa-1").sign(t, ti.claims(clk.Now(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	if id.User != "alice@example.com" || id.Issuer != ti.iss {
		t.Fatalf("identity %+v", id)
	}
}

func TestCAFile(t *testing.T) {
	clk := newClock()
	ti := startTestIssuer(t, true, key(t, "rsa-1"))
	raw := key(t, "rsa-1").sign(t, ti.claims(clk.Now(), nil))

	v := newVerifier(t, issuerConfig(ti), clk, Options{})
	_, err := v.Verify(t.Context(), raw)
	wantErr(t, err, ErrUnavailable, "certificate")

	cfg := issuerConfig(ti)
	cfg.Issuers[0].CAFile = ti.caFile(t)
	v = newVerifier(t, cfg, clk, Options{})
	if _, err := v.Verify(t.Context(), raw); err != nil {
		t.Fatal(err)
	}

	cfg.Issuers[0].CAFile = cfg.Issuers[0].CAFile + ".missing"
	if _, err := New(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "bearer.issuers[0].caFile") {
		t.Fatalf("a missing caFile: %v", err)
	}
}

// TestKubernetesDiscoveryClaims: in discovery mode the user is the sub and the groups are the ones
// the API server gives a ServiceAccount.
func TestKubernetesDiscoveryClaims(t *testing.T) {
	clk := newClock()
	ti := newTestIssuer(t, key(t, "rsa-1"))
	cfg := Config{Kubernetes: Kubernetes{Mode: ModeDiscovery, Issuer: ti.iss, Audiences: []string{"kfgate"}, UserPrefix: "k8s:"}}
	v := newVerifier(t, cfg, clk, Options{})
	sa := func(sub string) string {
		return key(t, "rsa-1").sign(t, ti.claims(clk.Now(), map[string]any{"sub": sub, "email": nil, "groups": []string{"system:masters"}}))
	}
	id, err := v.Verify(t.Context(), sa("system:serviceaccount:team:runner"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"}
	if id.User != "k8s:system:serviceaccount:team:runner" || !slices.Equal(id.Groups, want) {
		t.Fatalf("identity %+v", id)
	}
	for _, sub := range []string{"alice", "system:serviceaccount:team", "system:serviceaccount::x", "system:serviceaccount:a:b:c"} {
		_, err := v.Verify(t.Context(), sa(sub))
		wantErr(t, err, ErrInvalidToken, "system:serviceaccount:<namespace>:<name>")
	}
}

func TestVerifyConcurrent(t *testing.T) {
	clk := newClock()
	ti := newTestIssuer(t, key(t, "rsa-1"), key(t, "ec-1"))
	v := newVerifier(t, issuerConfig(ti), clk, Options{})
	good := key(t, "ec-1").sign(t, ti.claims(clk.Now(), nil))
	bad := key(t, "rsa-2").sign(t, ti.claims(clk.Now(), nil))
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for range 20 {
				if _, err := v.Verify(context.Background(), good); err != nil {
					t.Error(err)
					return
				}
				if _, err := v.Verify(context.Background(), bad); err == nil {
					t.Error("a token of an unknown key verified")
					return
				}
				if i == 0 {
					clk.Advance(100 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
}

func TestEnabledClose(t *testing.T) {
	v, err := New(Config{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Enabled() || !v.Ready() {
		t.Fatal("an empty config is enabled or not ready")
	}
	_, err = v.Verify(t.Context(), key(t, "rsa-1").sign(t, map[string]any{"iss": "https://x.example"}))
	wantErr(t, err, ErrUnknownIssuer, `"https://x.example"`)
	v.Close()
	v.Close()
}

// Verified tokens are remembered by digest until min(exp, Remember); failures are not; a negative
// Remember verifies every time.
func TestRemember(t *testing.T) {
	clk := newClock()
	ti := newTestIssuer(t, key(t, "rsa-1"))
	v := newVerifier(t, issuerConfig(ti), clk, Options{})
	raw := key(t, "rsa-1").sign(t, ti.claims(clk.Now(), nil))
	id, err := v.Verify(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), raw[:len(raw)-2]+"AA"); err == nil {
		t.Fatal("a tampered token verified")
	}
	if v.verified.Len() != 1 {
		t.Fatalf("%d remembered tokens, want 1 (failures are not remembered)", v.verified.Len())
	}
	key := sha256.Sum256([]byte(raw))
	until := clk.Now().Add(DefaultRemember)
	if id.Expiry.Before(until) {
		until = id.Expiry
	}
	if _, ok := v.verified.Get(key, until.Add(-time.Second)); !ok {
		t.Fatal("forgotten before its deadline")
	}
	if _, ok := v.verified.Get(key, until.Add(time.Nanosecond)); ok {
		t.Fatal("remembered past min(exp, Remember)")
	}
	off := newVerifier(t, issuerConfig(ti), clk, Options{Remember: -1})
	if _, err := off.Verify(t.Context(), raw); err != nil || off.verified != nil {
		t.Fatalf("Remember off: %v, memo %v", err, off.verified)
	}
}
