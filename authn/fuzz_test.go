package authn

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/go-logr/logr"
	"golang.org/x/oauth2"

	"github.com/kfgate/kfgate/authn/session"
)

type fixedIDP struct{ d *Discovered }

func (f fixedIDP) Current() (*Discovered, error) { return f.d, nil }
func (f fixedIDP) Reachable() bool               { return true }

// seededReader is deterministic randomness for tests.
type seededReader struct{ r *rand.ChaCha8 }

func (s seededReader) Read(p []byte) (int, error) { return s.r.Read(p) }

func fuzzAuthorizer(t testing.TB) *Authorizer {
	cfg := Defaults()
	cfg.OIDC.Issuer, cfg.OIDC.ClientID = "https://idp.example.com", "kfgate"
	now := func() time.Time { return time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC) }
	rnd := seededReader{rand.NewChaCha8([32]byte{1})}
	keys, err := session.NewKeyring([][]byte{make([]byte, 32)}, rnd)
	if err != nil {
		t.Fatal(err)
	}
	store, err := session.NewCookieStore(keys, session.Options{Secure: true, AbsoluteTimeout: 12 * time.Hour, IdleTimeout: time.Hour, Now: now, Rand: rnd})
	if err != nil {
		t.Fatal(err)
	}
	return New(cfg, Deps{Now: now, Rand: rnd, Log: logr.Discard(), Store: store, Keys: keys, IDP: fixedIDP{&Discovered{
		OAuth2: oauth2.Config{ClientID: "kfgate", Endpoint: oauth2.Endpoint{AuthURL: "https://idp.example.com/auth", TokenURL: "https://idp.example.com/token"}},
	}}})
}

// FuzzCheck sends arbitrary paths, cookies and headers through Check: it must always answer with a
// valid CheckResponse, and never let a request through with an identity it did not establish.
func FuzzCheck(f *testing.F) {
	for _, s := range [][4]string{
		{"GET", "/jupyter/", "text/html", "__Host-kfgate-session=abc"},
		{"GET", "/authservice/oidc/callback?code=x&state=0123456789abcdefXYZ", "text/html", "__Host-kfgate-flow-0123456789abcdef=zz"},
		{"POST", "/authservice/logout", "*/*", ""},
		{"GET", "/dex/%2e%2e/api", "", "a=b; c"},
		{"GET", "//evil.com/", "text/html", "__Host-kfgate-session-1=x; __Host-kfgate-session=y"},
		{"HEAD", "/?x#y", "text/html;q=0.5, application/json", "__Host-kfgate-logins=garbage"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	a := fuzzAuthorizer(f)
	f.Fuzz(func(t *testing.T, method, path, accept, cookie string) {
		req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Http: &authv3.AttributeContext_HttpRequest{Method: method, Path: path, Host: "kf.example.com", Scheme: "https",
				Headers: map[string]string{"accept": accept, "cookie": cookie, "kubeflow-userid": "spoof"}},
		}}}
		resp, err := a.Check(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if err := resp.ValidateAll(); err != nil {
			t.Fatalf("invalid response: %v", err)
		}
		if ok := resp.GetOkResponse(); ok != nil {
			for _, h := range ok.GetHeaders() {
				if h.GetHeader().GetKey() == "kubeflow-userid" {
					t.Fatalf("an identity was set without a session: %v", h)
				}
			}
		}
	})
}
