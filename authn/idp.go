package authn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-logr/logr"
	"golang.org/x/oauth2"
)

// IDP is the OpenID provider browsers log in with, once discovered.
type IDP interface {
	// Current returns the discovered provider, or errIDPUnavailable before discovery succeeded.
	Current() (*Discovered, error)
	// Reachable reports whether the provider answered its last probe: new logins are only sent to
	// a provider that does.
	Reachable() bool
}

// Discovered is what discovery yields: the endpoints, the ID token verifier and the HTTP client
// that reaches the provider.
type Discovered struct {
	OAuth2     oauth2.Config // RedirectURL is set per request
	Verifier   *oidc.IDTokenVerifier
	EndSession string
	Client     *http.Client
}

var errIDPUnavailable = errors.New("the identity provider has not been reached yet")

// ctx returns ctx carrying the provider's HTTP client, for oauth2 and go-oidc calls.
func (d *Discovered) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, d.Client)
}

// Provider discovers the OpenID provider in the background, retrying with backoff, and keeps the
// result. Readiness is false until the first discovery succeeded; sessions already issued keep
// working whatever the provider does.
type Provider struct {
	cfg     OIDCConfig
	secret  string
	client  *http.Client
	now     func() time.Time
	log     logr.Logger
	metrics *Metrics
	cur     atomic.Pointer[Discovered]
	down    atomic.Bool // the last probe failed
}

// NewProvider prepares discovery of cfg.Issuer; secret is the client secret.
func NewProvider(cfg OIDCConfig, secret string, now func() time.Time, log logr.Logger, m *Metrics) (*Provider, error) {
	client, err := idpClient(cfg, m)
	if err != nil {
		return nil, err
	}
	return &Provider{cfg: cfg, secret: secret, client: client, now: now, log: log, metrics: m}, nil
}

// Current implements IDP.
func (p *Provider) Current() (*Discovered, error) {
	if d := p.cur.Load(); d != nil {
		return d, nil
	}
	return nil, errIDPUnavailable
}

// Reachable implements IDP.
func (p *Provider) Reachable() bool { return p.cur.Load() != nil && !p.down.Load() }

// Ready reports whether discovery has succeeded.
func (p *Provider) Ready() bool { return p.cur.Load() != nil }

// Run discovers the provider, retrying with backoff (1 s doubling to 30 s) until it succeeds or ctx
// ends.
func (p *Provider) Run(ctx context.Context) {
	backoff := time.Second
	for {
		err := p.discover(ctx)
		if err == nil {
			p.log.Info("identity provider discovered", "issuer", p.cfg.Issuer)
			p.metrics.idpReachable(true)
			p.probe(ctx)
			return
		}
		p.log.Error(err, "identity provider discovery failed; retrying", "issuer", p.cfg.Issuer, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// probe fetches the discovery document every ProbeInterval until ctx ends, and records whether the
// provider answered; a change is logged once.
func (p *Provider) probe(ctx context.Context) {
	url := strings.TrimSuffix(p.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.cfg.ProbeInterval):
		}
		err := p.fetch(ctx, url)
		down := err != nil
		p.metrics.idpReachable(!down)
		if p.down.Swap(down) != down {
			if down {
				p.log.Error(err, "identity provider unreachable; new logins get a 503 page", "issuer", p.cfg.Issuer)
			} else {
				p.log.Info("identity provider reachable again", "issuer", p.cfg.Issuer)
			}
		}
	}
}

func (p *Provider) fetch(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close() // only the status matters
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("discovery answered %s", resp.Status)
	}
	return nil
}

func (p *Provider) discover(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	op, err := oidc.NewProvider(oidc.ClientContext(ctx, p.client), p.cfg.Issuer)
	if err != nil {
		return fmt.Errorf("discovery of %s: %w", p.cfg.Issuer, err)
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := op.Claims(&extra); err != nil {
		return fmt.Errorf("discovery document of %s: %w", p.cfg.Issuer, err)
	}
	p.cur.Store(&Discovered{
		OAuth2: oauth2.Config{
			ClientID: p.cfg.ClientID, ClientSecret: p.secret, Endpoint: op.Endpoint(), Scopes: p.cfg.Scopes,
		},
		Verifier:   op.VerifierContext(oidc.ClientContext(context.Background(), p.client), &oidc.Config{ClientID: p.cfg.ClientID, Now: p.now}),
		EndSession: extra.EndSession,
		Client:     p.client,
	})
	return nil
}

// idpClient is the HTTP client for the provider: its own CA bundle when configured, a timeout, and
// latency recorded per endpoint.
func idpClient(cfg OIDCConfig, m *Metrics) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("oidc.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("oidc.caFile %s: no PEM certificate in it", cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Timeout: cfg.Timeout, Transport: timedTransport{next: tr, m: m}}, nil
}

// timedTransport records how long the provider takes, by endpoint.
type timedTransport struct {
	next http.RoundTripper
	m    *Metrics
}

func (t timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	endpoint := "other"
	switch p := r.URL.Path; {
	case strings.HasSuffix(p, "/.well-known/openid-configuration"):
		endpoint = "discovery"
	case strings.Contains(p, "token"):
		endpoint = "token"
	case strings.Contains(p, "jwk") || strings.Contains(p, "keys") || strings.Contains(p, "certs"):
		endpoint = "jwks"
	}
	t.m.idp(endpoint, err, time.Since(start))
	return resp, err
}
