package bearer

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Defaults that Validate fills in.
const (
	DefaultUserClaim   = "email"
	DefaultGroupsClaim = "groups"
	DefaultLeeway      = 60 * time.Second
	DefaultReviewTTL   = 10 * time.Second
)

// The Kubernetes modes.
const (
	ModeOff         = ""
	ModeDiscovery   = "discovery"
	ModeTokenReview = "tokenreview"
)

// Issuer is one trusted JWT issuer (Dex, another OIDC provider, or a Kubernetes cluster's
// ServiceAccount issuer).
type Issuer struct {
	// URL must equal the token's iss exactly (a trailing slash counts).
	URL string `mapstructure:"url"`
	// Audiences: the token's aud must contain one of them. At least one is required: a token minted
	// for another client of the same issuer must not be accepted here.
	Audiences []string `mapstructure:"audiences"`
	// UserClaim holds the user name; default "email". When it is "email", the value must be one
	// address (exactly one '@') and email_verified must be absent or true.
	UserClaim string `mapstructure:"userClaim"`
	// GroupsClaim holds the groups, an array of strings or a single string; default "groups".
	GroupsClaim string `mapstructure:"groupsClaim"`
	// UserPrefix is prepended to the user value, keeping this issuer's users apart from others'.
	UserPrefix string `mapstructure:"userPrefix"`
	// CAFile is an optional PEM bundle trusted (besides the system roots) for discovery and JWKS.
	CAFile string `mapstructure:"caFile"`
	// DiscoveryURL is where discovery is fetched when that differs from URL, such as an in-cluster
	// Service for an issuer whose public URL is not reachable from the pod. The document found there
	// must still name URL as its issuer; a jwks_uri under URL is fetched under DiscoveryURL instead.
	DiscoveryURL string `mapstructure:"discoveryURL"`
}

// Kubernetes verifies ServiceAccount tokens.
type Kubernetes struct {
	// Mode is "" (off), "discovery" (the cluster's ServiceAccount issuer is one more Issuer: iss, aud
	// and signature are checked offline with its JWKS) or "tokenreview" (the API server decides,
	// through an authentication.k8s.io/v1 TokenReview, so revoked and pod-bound tokens are honoured).
	Mode string `mapstructure:"mode"`
	// Issuer is the cluster's --service-account-issuer (e.g.
	// https://kubernetes.default.svc.cluster.local). Required in discovery mode. In tokenreview mode
	// it is optional: when set, only tokens with this iss are reviewed, otherwise every JWT whose iss
	// is not one of Config.Issuers is.
	Issuer string `mapstructure:"issuer"`
	// DiscoveryURL is where discovery mode fetches the issuer's discovery document and keys, such as
	// https://kubernetes.default.svc. Only requests to this host carry the pod's credentials
	// (Options.KubeHTTPClient); without it, discovery goes to Issuer with the plain HTTP client.
	DiscoveryURL string `mapstructure:"discoveryURL"`
	// Audiences: discovery mode requires at least one. In tokenreview mode they are sent as
	// spec.audiences; empty means the API server's own audiences.
	Audiences []string `mapstructure:"audiences"`
	// UserPrefix is prepended to the user name (system:serviceaccount:<ns>:<name>).
	UserPrefix string `mapstructure:"userPrefix"`
	// CacheTTL: how long a TokenReview's positive result is reused (keyed by the token's SHA-256,
	// never the token); default 10s. A rejection is reused for at most a second.
	CacheTTL time.Duration `mapstructure:"cacheTTL"`
}

// Config is the bearer token configuration.
type Config struct {
	Issuers    []Issuer   `mapstructure:"issuers"`
	Kubernetes Kubernetes `mapstructure:"kubernetes"`
	// Leeway is the clock skew allowed on exp, nbf and iat; default 60s.
	Leeway time.Duration `mapstructure:"leeway"`
}

// Validate checks the configuration and fills in the defaults (UserClaim, GroupsClaim, Leeway,
// Kubernetes.CacheTTL), so that a zero value means the default. Field paths in its errors start with
// "bearer.".
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Leeway < 0 {
		add("bearer.leeway: must not be negative, got %s", c.Leeway)
	} else if c.Leeway == 0 {
		c.Leeway = DefaultLeeway
	}
	seen := map[string]string{}
	for i := range c.Issuers {
		is := &c.Issuers[i]
		path := fmt.Sprintf("bearer.issuers[%d]", i)
		if err := checkURL(is.URL); err != nil {
			add("%s.url: %w", path, err)
		} else if prev, dup := seen[is.URL]; dup {
			add("%s.url: %q is already %s", path, is.URL, prev)
		} else {
			seen[is.URL] = path
		}
		errs = append(errs, checkAudiences(path+".audiences", is.Audiences)...)
		if is.DiscoveryURL != "" {
			if err := checkURL(is.DiscoveryURL); err != nil {
				add("%s.discoveryURL: %w", path, err)
			}
		}
		if is.UserClaim == "" {
			is.UserClaim = DefaultUserClaim
		}
		if is.GroupsClaim == "" {
			is.GroupsClaim = DefaultGroupsClaim
		}
	}
	k := &c.Kubernetes
	switch k.Mode {
	case ModeOff:
	case ModeDiscovery, ModeTokenReview:
		if k.Issuer == "" {
			// In tokenreview mode too: otherwise every JWT-shaped token of an unknown issuer, garbage
			// included, would cost the API server a TokenReview.
			add("bearer.kubernetes.issuer: required (the cluster's --service-account-issuer, e.g. https://kubernetes.default.svc.cluster.local): only tokens it issued are verified")
		} else if k.Issuer != "" {
			if err := checkURL(k.Issuer); err != nil {
				add("bearer.kubernetes.issuer: %w", err)
			} else if prev, dup := seen[k.Issuer]; dup {
				add("bearer.kubernetes.issuer: %q is already %s", k.Issuer, prev)
			}
		}
		if k.DiscoveryURL != "" {
			if k.Mode != ModeDiscovery {
				add("bearer.kubernetes.discoveryURL: only used in discovery mode")
			} else if err := checkURL(k.DiscoveryURL); err != nil {
				add("bearer.kubernetes.discoveryURL: %w", err)
			}
		}
		if k.Mode == ModeDiscovery || len(k.Audiences) > 0 {
			errs = append(errs, checkAudiences("bearer.kubernetes.audiences", k.Audiences)...)
		}
		if k.CacheTTL < 0 {
			add("bearer.kubernetes.cacheTTL: must not be negative, got %s", k.CacheTTL)
		} else if k.CacheTTL == 0 {
			k.CacheTTL = DefaultReviewTTL
		}
	default:
		add("bearer.kubernetes.mode: %q is not one of \"\", %q, %q", k.Mode, ModeDiscovery, ModeTokenReview)
	}
	return errors.Join(errs...)
}

func checkAudiences(path string, auds []string) []error {
	if len(auds) == 0 {
		return []error{fmt.Errorf("%s: at least one audience is required", path)}
	}
	var errs []error
	for j, a := range auds {
		if strings.TrimSpace(a) == "" {
			errs = append(errs, fmt.Errorf("%s[%d]: must not be empty", path, j))
		}
	}
	return errs
}

// checkURL accepts absolute http and https URLs without query or fragment. Plain http stays allowed:
// Kubeflow's in-cluster Dex is commonly http://dex.auth.svc.cluster.local:5556/dex.
func checkURL(s string) error {
	if s == "" {
		return errors.New("required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q: want an absolute http(s) URL", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q: must not have a query, fragment or user info", s)
	}
	return nil
}
