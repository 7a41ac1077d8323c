package bearer

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
)

// FuzzVerifyMalformed: whatever the input, Verify returns one of its errors (or, for the valid seed,
// an identity) and never panics; an error never contains the token.
func FuzzVerifyMalformed(f *testing.F) {
	clk := newClock()
	ti := newTestIssuer(f, key(f, "rsa-1"), key(f, "ec-1"))
	reviews := &fakeReviews{answer: func(authenticationv1.TokenReviewSpec) (authenticationv1.TokenReviewStatus, error) {
		return authenticationv1.TokenReviewStatus{Error: "fuzz"}, nil
	}}
	cfg := issuerConfig(ti)
	cfg.Kubernetes = Kubernetes{Mode: ModeTokenReview, Issuer: "https://k8s.example"}
	v := newVerifier(f, cfg, clk, Options{TokenReviews: reviews.clientset().AuthenticationV1().TokenReviews()})

	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	good := key(f, "rsa-1").sign(f, ti.claims(clk.Now(), nil))
	parts := strings.Split(good, ".")
	for _, seed := range []string{
		good,
		key(f, "ec-1").sign(f, ti.claims(clk.Now(), map[string]any{"groups": "one"})),
		key(f, "rsa-2").sign(f, ti.claims(clk.Now(), nil)),
		key(f, "rsa-1").sign(f, ti.claims(clk.Now(), map[string]any{"iss": "https://k8s.example"})),
		key(f, "rsa-1").sign(f, ti.claims(clk.Now(), map[string]any{"exp": 1e300, "nbf": -1e300, "iat": "x", "aud": []any{1, nil}})),
		"", ".", "..", "...", "a.b.c", "a.b.c.d.e", "\x00.\xff.\n",
		parts[0] + "." + parts[1] + ".",
		enc(`{"alg":"none"}`) + "." + parts[1] + ".",
		enc(`{"alg":"HS256","kid":"rsa-1"}`) + "." + parts[1] + "." + parts[2],
		enc(`{"alg":"RS256","kid":{"x":1}}`) + "." + parts[1] + "." + parts[2],
		enc(`{"alg":"RS256","crit":["exp"]}`) + "." + parts[1] + "." + parts[2],
		parts[0] + "." + enc(`{"iss":"`+ti.iss+`","aud":"kfgate","email":null}`) + "." + parts[2],
		parts[0] + "." + enc(`{"iss":[]}`) + "." + parts[2],
		parts[0] + "." + enc(strings.Repeat("[", 5000)) + "." + parts[2],
		`{"protected":"` + parts[0] + `","payload":"` + parts[1] + `","signature":"` + parts[2] + `"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := v.Verify(t.Context(), raw)
		if err == nil {
			if id.User == "" {
				t.Fatalf("an identity without a user: %+v", id)
			}
			return
		}
		if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrUnknownIssuer) && !errors.Is(err, ErrUnavailable) {
			t.Fatalf("an error of no kind: %v", err)
		}
		if len(raw) >= 64 && strings.Contains(err.Error(), raw) {
			t.Fatalf("the error contains the token: %v", err)
		}
		clk.Advance(time.Millisecond)
	})
}
