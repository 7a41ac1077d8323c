// Package ir holds kfgate's intermediate representation: the route table and clusters resolved from
// decoded documents (precedence, canary groups, shadows, conflicts, service resolution). It is pure
// and serialisable; the xds package translates it into Envoy resources.
package ir

import (
	"time"

	"github.com/kfgate/kfgate/gateway/mapping"
)

// Config is everything Envoy needs, before translation.
type Config struct {
	Listener     Listener       `json:"listener"`
	HTTPS        *HTTPSListener `json:"https,omitempty"` // nil: no TLSContext serves hosts
	VirtualHosts []*VirtualHost `json:"virtualHosts"`
	Clusters     []*Cluster     `json:"clusters"`
	// Secrets are the SDS secrets the listener's filter chains and the clusters name.
	Secrets []*TLSSecret `json:"secrets,omitempty"`
}

// Listener is the single HTTP listener and its connection-manager settings.
type Listener struct {
	Port              uint32            `json:"port"`
	UseRemoteAddress  bool              `json:"useRemoteAddress"`
	XFFNumTrustedHops uint32            `json:"xffNumTrustedHops,omitempty"`
	Auth              *Auth             `json:"auth,omitempty"`
	CORS              bool              `json:"cors,omitempty"` // some route uses CORS: install the filter
	RateLimit         *RateLimitService `json:"rateLimit,omitempty"`
	AccessLog         mapping.AccessLog `json:"accessLog"`
	// PreserveExternalRequestID keeps a client's x-request-id (else Envoy makes a new one at the edge).
	PreserveExternalRequestID bool `json:"preserveExternalRequestId,omitempty"`
	// RedirectHosts are TLS hosts whose cleartext requests get a redirect to HTTPS.
	RedirectHosts []string `json:"redirectHosts,omitempty"`
}

// RateLimitService configures Envoy's global rate limit filter.
type RateLimitService struct {
	Cluster         string        `json:"cluster"`
	Domain          string        `json:"domain"`
	Timeout         time.Duration `json:"timeout"`
	FailureModeDeny bool          `json:"failureModeDeny,omitempty"`
}

// Auth configures Envoy's ext_authz filter.
type Auth struct {
	Cluster          string               `json:"cluster"`
	Timeout          time.Duration        `json:"timeout"`
	IncludeBody      *mapping.IncludeBody `json:"includeBody,omitempty"`
	AllowedHeaders   []string             `json:"allowedHeaders,omitempty"`
	FailureModeAllow bool                 `json:"failureModeAllow,omitempty"`
	StatusOnError    int                  `json:"statusOnError"`
}

// VirtualHost is a set of domains and their ordered routes (first match wins).
type VirtualHost struct {
	Name    string   `json:"name"`
	Domains []string `json:"domains"`
	Routes  []*Route `json:"routes"`
	// Module-wide header mutations.
	RequestHeadersToAdd     []mapping.HeaderValue `json:"requestHeadersToAdd,omitempty"`
	ResponseHeadersToAdd    []mapping.HeaderValue `json:"responseHeadersToAdd,omitempty"`
	RequestHeadersToRemove  []string              `json:"requestHeadersToRemove,omitempty"`
	ResponseHeadersToRemove []string              `json:"responseHeadersToRemove,omitempty"`
}

// Origin names the document a route came from.
type Origin struct {
	Namespace string         `json:"namespace"`
	Mapping   string         `json:"mapping"`
	Source    mapping.Source `json:"source"`
}

// Route is one Envoy route.
type Route struct {
	Name    string   `json:"name"`
	Origins []Origin `json:"origins"`
	Match   Match    `json:"match"`
	// RuntimeFraction, when > 0, gates the route to this share (percent) of requests: canary chains.
	RuntimeFraction uint32 `json:"runtimeFraction,omitempty"`

	Clusters []WeightedCluster `json:"clusters,omitempty"` // one entry: plain cluster
	Redirect *Redirect         `json:"redirect,omitempty"`
	Mirror   *Mirror           `json:"mirror,omitempty"`

	PrefixRewrite   *string               `json:"prefixRewrite,omitempty"`
	RegexRewrite    *mapping.RegexRewrite `json:"regexRewrite,omitempty"`
	HostRewrite     string                `json:"hostRewrite,omitempty"`
	AutoHostRewrite bool                  `json:"autoHostRewrite,omitempty"`
	Timeout         time.Duration         `json:"timeout"`
	IdleTimeout     *time.Duration        `json:"idleTimeout,omitempty"`
	Upgrades        []string              `json:"upgrades,omitempty"`

	RequestHeadersToAdd     []mapping.HeaderValue `json:"requestHeadersToAdd,omitempty"`
	ResponseHeadersToAdd    []mapping.HeaderValue `json:"responseHeadersToAdd,omitempty"`
	RequestHeadersToRemove  []string              `json:"requestHeadersToRemove,omitempty"`
	ResponseHeadersToRemove []string              `json:"responseHeadersToRemove,omitempty"`

	CORS        *mapping.CORS         `json:"cors,omitempty"`
	RetryPolicy *mapping.RetryPolicy  `json:"retryPolicy,omitempty"`
	HashPolicy  *mapping.LoadBalancer `json:"hashPolicy,omitempty"`

	// Auth is set when an AuthService exists: ext_authz per-route settings.
	Auth *RouteAuth `json:"auth,omitempty"`

	// RateLimits are the descriptors sent to the RateLimitService (the labels under its domain).
	RateLimits     []mapping.RateLimitGroup `json:"rateLimits,omitempty"`
	LocalRateLimit *mapping.LocalRateLimit  `json:"localRateLimit,omitempty"`

	// Translated caches the translator's output for this route; the IR is immutable once built.
	Translated any `json:"-"`
}

// Match is a route's match criteria.
type Match struct {
	Prefix        string             `json:"prefix,omitempty"`
	Path          string             `json:"path,omitempty"`
	Regex         string             `json:"regex,omitempty"`
	CaseSensitive bool               `json:"caseSensitive"`
	Headers       []mapping.KeyMatch `json:"headers,omitempty"` // includes :method and :authority
	Query         []mapping.KeyMatch `json:"query,omitempty"`
}

// WeightedCluster is a cluster and its share of the route's traffic.
type WeightedCluster struct {
	Cluster string `json:"cluster"`
	Weight  uint32 `json:"weight"`
}

// Redirect answers with a redirect instead of proxying.
type Redirect struct {
	Scheme string                `json:"scheme,omitempty"`
	Host   string                `json:"host"`
	Port   uint32                `json:"port,omitempty"`
	Path   string                `json:"path,omitempty"`
	Prefix string                `json:"prefix,omitempty"`
	Regex  *mapping.RegexRewrite `json:"regex,omitempty"`
	Code   int                   `json:"code"`
}

// Mirror shadows a share of the route's traffic to another cluster.
type Mirror struct {
	Cluster string `json:"cluster"`
	Percent uint32 `json:"percent"`
}

// RouteAuth is the ext_authz decision for one route.
type RouteAuth struct {
	Disabled          bool              `json:"disabled,omitempty"`
	ContextExtensions map[string]string `json:"contextExtensions,omitempty"`
}

// ClusterKind says how Envoy finds a cluster's endpoints.
type ClusterKind string

// Cluster kinds.
const (
	ClusterEDS ClusterKind = "EDS"        // endpoints from EndpointSlices, over xDS
	ClusterDNS ClusterKind = "STRICT_DNS" // endpoints from DNS
	// ClusterStatic has a fixed (possibly empty) endpoint list.
	ClusterStatic ClusterKind = "STATIC"
)

// Cluster is one upstream.
type Cluster struct {
	Name           string                   `json:"name"`
	Kind           ClusterKind              `json:"kind"`
	Host           string                   `json:"host"` // DNS name for STRICT_DNS; Service for EDS
	Port           uint32                   `json:"port"`
	TLS            bool                     `json:"tls,omitempty"`
	SNI            string                   `json:"sni,omitempty"`
	UpstreamTLS    *UpstreamTLS             `json:"upstreamTLS,omitempty"` // the TLSContext named in tls
	HTTP2          bool                     `json:"http2,omitempty"`
	ConnectTimeout time.Duration            `json:"connectTimeout"`
	LBPolicy       string                   `json:"lbPolicy,omitempty"`
	CircuitBreaker []mapping.CircuitBreaker `json:"circuitBreakers,omitempty"`
	Endpoints      []Endpoint               `json:"endpoints,omitempty"`

	service string // "namespace/name" of the Service it was made from, if any
	// Translated caches the translator's output for this cluster; the IR is immutable once built.
	Translated any `json:"-"`
}

// Endpoint is one ready address of an EDS cluster.
type Endpoint struct {
	Address string `json:"address"`
	Port    uint32 `json:"port"`
}
