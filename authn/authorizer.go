package authn

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/go-logr/logr"

	"github.com/kfgate/kfgate/authn/bearer"
	"github.com/kfgate/kfgate/authn/session"
)

// BearerVerifier verifies Authorization: Bearer tokens (bearer.Verifier).
type BearerVerifier interface {
	Enabled() bool
	Verify(ctx context.Context, raw string) (bearer.Identity, error)
}

// NamespaceChecker answers the per-namespace authorization (access.Checker).
type NamespaceChecker interface {
	Allowed(ctx context.Context, user string, groups []string, namespace string) (bool, string, error)
}

// Deps are the stateful edges the flows use. New fills Now, Rand and Log when nil; tests inject
// every one of them.
type Deps struct {
	Now     func() time.Time
	Rand    io.Reader
	Log     logr.Logger
	Store   session.Store
	Keys    *session.Keyring
	IDP     IDP
	Bearer  BearerVerifier   // nil: bearer tokens are not accepted (Authorization passes through untouched)
	Access  NamespaceChecker // nil: no per-namespace check
	Ledger  Ledger           // one-time use of login states; nil: in memory
	Metrics *Metrics         // nil: not recorded
	Limiter *ipLimiter       // nil: built from the config
}

// Authorizer is the ext_authz Authorization service.
type Authorizer struct {
	authv3.UnimplementedAuthorizationServer

	cfg     Config
	d       Deps
	skip    []skipMatcher
	resp    *responder
	names   cookieNames
	refresh *refreshCache
	limiter *ipLimiter
}

// New builds the Authorizer from a validated configuration.
func New(cfg Config, d Deps) *Authorizer {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Rand == nil {
		d.Rand = cryptoRand
	}
	if d.Ledger == nil {
		d.Ledger = newMemoryLedger(d.Now)
	}
	return &Authorizer{
		cfg:     cfg,
		d:       d,
		skip:    compileSkip(cfg.SkipAuth),
		resp:    newResponder(cfg.Identity),
		names:   newCookieNames(cfg.Session),
		refresh: newRefreshCache(d.Now),
		limiter: newIPLimiter(cfg.Login.RatePerMinute, cfg.Login.Burst, d.Now),
	}
}

// Check answers Envoy's ext_authz filter. Every outcome, even a malformed request, is an HTTP
// answer: a gRPC error would make Envoy apply status_on_error and hide why.
func (a *Authorizer) Check(ctx context.Context, c *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	start := time.Now()
	r, err := requestFrom(c)
	var o Outcome
	if err != nil {
		r = &Request{Headers: map[string]string{}}
		o = page(http.StatusBadRequest, reasonBadRequest, Problem{Title: "Bad request", Detail: err.Error()})
	} else {
		o = a.decide(ctx, r)
	}
	a.d.Metrics.check(o, time.Since(start))
	return a.resp.respond(r, o, a.owns), nil
}

func (a *Authorizer) decide(ctx context.Context, r *Request) Outcome {
	switch {
	case r.Path == a.cfg.OIDC.CallbackPath:
		return a.callback(ctx, r)
	case r.Path == a.cfg.Logout.Path && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		return a.logout(ctx, r)
	case skips(a.skip, r.Method, r.Path):
		return allow(nil, reasonSkip)
	}
	if raw, ok := bearerToken(r); ok && a.d.Bearer != nil && a.d.Bearer.Enabled() {
		return a.bearerCheck(ctx, r, raw)
	}
	return a.sessionCheck(ctx, r)
}

// owns says whether a cookie is kfgate's: those never reach the upstream apps.
func (a *Authorizer) owns(name string) bool {
	return a.d.Store.Owns(name) || a.names.ownsFlow(name) || name == a.names.loop
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *Request) (string, bool) {
	v := r.Header("authorization")
	if len(v) < 7 || !strings.EqualFold(v[:7], "bearer ") {
		return "", false
	}
	return strings.TrimSpace(v[7:]), true
}
