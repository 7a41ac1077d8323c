package bearer

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kfgate/kfgate/authn/internal/ttlcache"
)

// fakeReviews answers TokenReviews with answer; it counts them.
type fakeReviews struct {
	calls  atomic.Int32
	answer func(spec authenticationv1.TokenReviewSpec) (authenticationv1.TokenReviewStatus, error)
}

func (f *fakeReviews) clientset() *fake.Clientset {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		f.calls.Add(1)
		tr := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenReview)
		st, err := f.answer(tr.Spec)
		if err != nil {
			return true, nil, err
		}
		return true, &authenticationv1.TokenReview{Spec: tr.Spec, Status: st}, nil
	})
	return cs
}

// saToken is a JWT-shaped token a TokenReview is asked about; its signature is never checked here.
func saToken(t testing.TB, iss string, exp time.Time) string {
	return key(t, "rsa-sa").sign(t, map[string]any{"iss": iss, "sub": "system:serviceaccount:team:runner", "exp": exp.Unix()})
}

func authenticated(audiences ...string) authenticationv1.TokenReviewStatus {
	return authenticationv1.TokenReviewStatus{Authenticated: true, Audiences: audiences, User: authenticationv1.UserInfo{
		Username: "system:serviceaccount:team:runner",
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"}}}
}

func reviewVerifier(t testing.TB, clk *clock, k Kubernetes, f *fakeReviews) *Verifier {
	k.Mode = ModeTokenReview
	if k.Issuer == "" {
		k.Issuer = "https://k8s.example"
	}
	return newVerifier(t, Config{Kubernetes: k}, clk, Options{TokenReviews: f.clientset().AuthenticationV1().TokenReviews()})
}

func TestTokenReview(t *testing.T) {
	clk := newClock()
	var sent []string
	f := &fakeReviews{answer: func(spec authenticationv1.TokenReviewSpec) (authenticationv1.TokenReviewStatus, error) {
		sent = spec.Audiences
		return authenticated("kfgate"), nil
	}}
	v := reviewVerifier(t, clk, Kubernetes{Audiences: []string{"kfgate"}, UserPrefix: "k8s:"}, f)
	raw := saToken(t, "https://k8s.example", clk.Now().Add(time.Hour))
	id, err := v.Verify(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if id.User != "k8s:system:serviceaccount:team:runner" || !slices.Contains(id.Groups, "system:serviceaccounts:team") ||
		id.Issuer != "https://k8s.example" || !id.Expiry.Equal(clk.Now().Add(time.Hour)) {
		t.Fatalf("identity %+v", id)
	}
	if !slices.Equal(sent, []string{"kfgate"}) {
		t.Fatalf("spec.audiences %v", sent)
	}
	// Cached: a second Verify does not ask again, and changing the returned groups changes nothing.
	id.Groups[0] = "changed"
	id2, err := v.Verify(t.Context(), raw)
	if err != nil || f.calls.Load() != 1 || id2.Groups[0] != "system:serviceaccounts" {
		t.Fatalf("cached answer: %+v %v, %d calls", id2, err, f.calls.Load())
	}
	// Until the TTL.
	clk.Advance(DefaultReviewTTL)
	if _, err := v.Verify(t.Context(), raw); err != nil || f.calls.Load() != 2 {
		t.Fatalf("after the TTL: %v, %d calls", err, f.calls.Load())
	}
}

// TestTokenReviewCacheExpiry: a cached answer never outlives the token's exp.
func TestTokenReviewCacheExpiry(t *testing.T) {
	clk := newClock()
	f := &fakeReviews{answer: func(authenticationv1.TokenReviewSpec) (authenticationv1.TokenReviewStatus, error) {
		return authenticated(), nil
	}}
	v := reviewVerifier(t, clk, Kubernetes{}, f)
	raw := saToken(t, "https://k8s.example", clk.Now().Add(2*time.Second))
	for range 2 {
		if _, err := v.Verify(t.Context(), raw); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(2 * time.Second)
	if _, err := v.Verify(t.Context(), raw); err != nil || f.calls.Load() != 2 {
		t.Fatalf("past exp: %v, %d calls", err, f.calls.Load())
	}
}

func TestTokenReviewRejected(t *testing.T) {
	clk := newClock()
	var st authenticationv1.TokenReviewStatus
	f := &fakeReviews{answer: func(authenticationv1.TokenReviewSpec) (authenticationv1.TokenReviewStatus, error) { return st, nil }}
	v := reviewVerifier(t, clk, Kubernetes{Audiences: []string{"kfgate"}}, f)
	raw := saToken(t, "https://k8s.example", clk.Now().Add(time.Hour))

	st = authenticationv1.TokenReviewStatus{Error: "token has been invalidated"}
	_, err := v.Verify(t.Context(), raw)
	wantErr(t, err, ErrInvalidToken, "token has been invalidated")
	// Cached briefly only.
	_, err = v.Verify(t.Context(), raw)
	wantErr(t, err, ErrInvalidToken, "")
	if f.calls.Load() != 1 {
		t.Fatalf("%d calls, want 1 within rejectedTTL", f.calls.Load())
	}
	clk.Advance(rejectedTTL)
	st = authenticated("other") // authenticated, for another audience
	_, err = v.Verify(t.Context(), raw)
	wantErr(t, err, ErrInvalidToken, "include none of the configured ones")
	clk.Advance(rejectedTTL)
	st = authenticated() // an authenticator that ignores audiences
	_, err = v.Verify(t.Context(), raw)
	wantErr(t, err, ErrInvalidToken, "include none of the configured ones")
	clk.Advance(rejectedTTL)
	st = authenticated("kfgate")
	st.User.Username = ""
	_, err = v.Verify(t.Context(), raw)
	wantErr(t, err, ErrInvalidToken, "no usable user name")
	if f.calls.Load() != 4 {
		t.Fatalf("%d calls, want 4", f.calls.Load())
	}
}

// TestTokenReviewAPIError: an API error is ErrUnavailable and is not cached.
func TestTokenReviewAPIError(t *testing.T) {
	clk := newClock()
	fail := true
	f := &fakeReviews{answer: func(authenticationv1.TokenReviewSpec) (authenticationv1.TokenReviewStatus, error) {
		if fail {
			return authenticationv1.TokenReviewStatus{}, errors.New("connection refused")
		}
		return authenticated(), nil
	}}
	v := reviewVerifier(t, clk, Kubernetes{}, f)
	raw := saToken(t, "https://k8s.example", clk.Now().Add(time.Hour))
	_, err := v.Verify(t.Context(), raw)
	wantErr(t, err, ErrUnavailable, "connection refused")
	fail = false
	if _, err := v.Verify(t.Context(), raw); err != nil {
		t.Fatalf("the error was cached: %v", err)
	}
	if f.calls.Load() != 2 {
		t.Fatalf("%d calls", f.calls.Load())
	}
}

// TestTokenReviewIssuer: only the configured issuer's tokens are reviewed (so garbage of other
// issuers costs the API server nothing). Tokens that are not JWTs never reach the API server.
func TestTokenReviewIssuer(t *testing.T) {
	clk := newClock()
	f := &fakeReviews{answer: func(authenticationv1.TokenReviewSpec) (authenticationv1.TokenReviewStatus, error) {
		return authenticated(), nil
	}}
	v := reviewVerifier(t, clk, Kubernetes{Issuer: "https://k8s.example"}, f)
	_, err := v.Verify(t.Context(), saToken(t, "https://other.example", clk.Now().Add(time.Hour)))
	wantErr(t, err, ErrUnknownIssuer, "")
	if _, err := v.Verify(t.Context(), saToken(t, "https://k8s.example", clk.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(t.Context(), "not-a-jwt")
	wantErr(t, err, ErrInvalidToken, "")
	if f.calls.Load() != 1 {
		t.Fatalf("%d calls, want 1", f.calls.Load())
	}
}

// TestTokenReviewShared: concurrent requests with one token send one TokenReview.
func TestTokenReviewShared(t *testing.T) {
	clk := newClock()
	release := make(chan struct{})
	f := &fakeReviews{answer: func(authenticationv1.TokenReviewSpec) (authenticationv1.TokenReviewStatus, error) {
		<-release
		return authenticated(), nil
	}}
	v := reviewVerifier(t, clk, Kubernetes{}, f)
	raw := saToken(t, "https://k8s.example", clk.Now().Add(time.Hour))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := v.Verify(t.Context(), raw); err != nil {
				t.Error(err)
			}
		})
	}
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others join
	close(release)
	wg.Wait()
	if f.calls.Load() != 1 {
		t.Fatalf("%d TokenReviews, want 1", f.calls.Load())
	}
}

// TestTokenReviewCacheBounded: the cache keeps at most maxReviews answers.
func TestTokenReviewCacheBounded(t *testing.T) {
	clk := newClock()
	f := &fakeReviews{answer: func(authenticationv1.TokenReviewSpec) (authenticationv1.TokenReviewStatus, error) {
		return authenticated(), nil
	}}
	v := reviewVerifier(t, clk, Kubernetes{}, f)
	v.review.cache = ttlcache.New[[32]byte, reviewed](10)
	for i := range 30 {
		raw := key(t, "rsa-sa").sign(t, map[string]any{"iss": "https://k8s.example", "jti": i})
		if _, err := v.Verify(t.Context(), raw); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.review.cache.Len(); n != 10 {
		t.Fatalf("%d cached answers, want 10", n)
	}
}
