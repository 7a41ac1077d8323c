package routeeval

import (
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// Request is one HTTP request as Envoy's router sees it after the HTTP connection manager
// (header names lower-case).
type Request struct {
	Authority string            // :authority (Host)
	Method    string            // :method
	Path      string            // :path, may include ?query
	Scheme    string            // :scheme and, unless Headers has one, x-forwarded-proto; "http" if empty
	Headers   map[string]string // other request headers (names are lower-cased); repeated values joined with ","
	Random    uint64            // used for weighted_clusters choice (random % total weight) and runtime_fraction
	Runtime   Runtime           // answers runtime_fraction; nil is an empty runtime (EmptyRuntime)
	// RemoteAddress is the downstream remote address ("ip:port"); it feeds the
	// %DOWNSTREAM_REMOTE_ADDRESS% and %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% header formatters.
	RemoteAddress string
}

// WeightedCluster is one candidate of a weighted_clusters route action.
type WeightedCluster struct {
	Name   string
	Weight uint32
}

// Redirect is the redirect response Envoy sends for a redirect route or a require_tls virtual host.
type Redirect struct {
	Location string // full URL: scheme://host[:port]/path[?query]
	Code     int    // HTTP status, 301 by default
}

// DirectResponse is the local reply of a direct_response route.
type DirectResponse struct {
	Status int
	Body   string
	// URI is Http::Utility::newUri for the request (scheme://host/path). Envoy sends it as the
	// Location header only for 201 and 3xx statuses (router.cc); router_check reports it as the
	// "path_redirect" of any direct response.
	URI string
}

// Header is one configured header addition, with formatters already substituted.
type Header struct {
	Key            string // lower-case, as Envoy stores it (HP: Http::LowerCaseString)
	Value          string
	AppendAction   corev3.HeaderValueOption_HeaderAppendAction
	KeepEmptyValue bool
}

// Level names where a header mutation or per-filter config was configured.
type Level string

// Configuration levels, most specific first.
const (
	LevelRoute              Level = "route"
	LevelVirtualHost        Level = "virtual_host"
	LevelRouteConfiguration Level = "route_configuration"
)

// HeaderMutation is the work of one Envoy HeaderParser: removals first, then additions (HP
// evaluateHeaders "remove-before-add").
type HeaderMutation struct {
	Level  Level
	Remove []string // lower-case names
	Add    []Header
}

// Mirror is one request_mirror_policies entry in effect for the route.
type Mirror struct {
	Cluster string
	// Fraction is the sampled share, runtime_fraction's default_value (100% when unset): a request
	// is mirrored when Runtime.FeatureEnabled says so (FilterUtility::shouldShadow).
	Fraction *typev3.FractionalPercent
}

// Decision is what Envoy's router does with one request.
type Decision struct {
	Matched     bool   // a route matched (false => Envoy 404 "no route")
	VirtualHost string // name of the selected virtual host ("" if none)
	// VirtualCluster names the request's virtual cluster (stats only): see virtualClusterFor.
	VirtualCluster string
	RouteName      string
	Cluster        string // chosen cluster (weighted: chosen by Random)
	// WeightedClusters lists all candidates with weights when weighted_clusters is used.
	WeightedClusters []WeightedCluster
	Path             string // :path after prefix_rewrite / regex_rewrite (query kept)
	// PathRewritten is set when the route configures a prefix_rewrite or regex_rewrite; the router
	// then records the original path in x-envoy-original-path.
	PathRewritten bool
	Host          string // :authority after host_rewrite_literal (unchanged otherwise)
	// HostRewriteLiteral is the route's host_rewrite_literal ("" when unset).
	HostRewriteLiteral string
	AutoHostRewrite    bool // auto_host_rewrite: Envoy sets :authority to the chosen upstream host
	// AppendXForwardedHost is RouteAction.append_x_forwarded_host: a host rewrite appends the old
	// host to x-forwarded-host.
	AppendXForwardedHost bool
	// InternalOnlyStripped lists the route configuration's internal_only_headers that were removed
	// because the request is not Envoy-internal.
	InternalOnlyStripped []string
	// TLSRedirect is set when the redirect comes from the virtual host's require_tls.
	TLSRedirect    bool
	Redirect       *Redirect       // when the route is a redirect: Location URL and Code
	DirectResponse *DirectResponse // status + body

	// Header mutations, flattened in Envoy's evaluation order (route → vhost → route-config by
	// default). RequestHeaderMutations keeps the per-level grouping needed to apply them exactly.
	RequestHeadersToAdd     []Header
	RequestHeadersToRemove  []string
	ResponseHeadersToAdd    []Header
	ResponseHeadersToRemove []string
	RequestHeaderMutations  []HeaderMutation
	ResponseHeaderMutations []HeaderMutation

	Timeout     *time.Duration // route timeout (nil = unset: Envoy's default of 15s applies)
	IdleTimeout *time.Duration
	Upgrades    []string // enabled upgrade types, lower-case, as configured on the route
	// DisabledUpgrades lists upgrade types the route explicitly disables (enabled: false).
	DisabledUpgrades []string
	Mirrors          []string // request_mirror_policies clusters
	MirrorPolicies   []Mirror
	RetryPolicy      *routev3.RetryPolicy // route's, else the virtual host's (recorded, not evaluated)
	CORS             *routev3.CorsPolicy  // route's, else the virtual host's (recorded, not evaluated)
	HashPolicy       []*routev3.RouteAction_HashPolicy
	// RateLimits are the route's rate limit descriptors (recorded, not evaluated: a RateLimitService decides).
	RateLimits []*routev3.RateLimit
	// TypedPerFilterConfig is merged route > vhost > route-config (most specific wins per filter).
	TypedPerFilterConfig map[string]*anypb.Any
}

// IsForward reports whether the decision forwards the request upstream (a matched route action,
// not a redirect or direct response).
func (d Decision) IsForward() bool {
	return d.Matched && d.Redirect == nil && d.DirectResponse == nil
}
