package mapping

// Annotation keys kfgate reads on Services.
const (
	AnnotationAmbassador = "getambassador.io/config"
	AnnotationKfgate     = "kfgate.io/config"
	// AnnotationGenerated is written by kfgate's Kubeflow helper; read like the others.
	AnnotationGenerated = "kfgate.io/generated-config"
)

// AnnotationKeys lists the keys in the order they are read.
var AnnotationKeys = []string{AnnotationAmbassador, AnnotationKfgate, AnnotationGenerated}

// MaxAnnotationBytes bounds one annotation value; larger values are rejected as a whole.
const MaxAnnotationBytes = 256 << 10

// Kinds of document.
const (
	KindMapping          = "Mapping"
	KindModule           = "Module"
	KindAuthService      = "AuthService"
	KindTLSContext       = "TLSContext"
	KindRateLimitService = "RateLimitService"
)

// APIVersions lists the accepted apiVersion values; they all share one schema.
var APIVersions = []string{
	"ambassador/v0", "ambassador/v1",
	"getambassador.io/v0", "getambassador.io/v1", "getambassador.io/v2",
	"kfgate.io/v1",
}

// Kinds lists the accepted kinds.
var Kinds = []string{KindMapping, KindModule, KindAuthService, KindTLSContext, KindRateLimitService}

// Document is one decoded, valid document. Exactly one of Mapping, Module, AuthService,
// TLSContext, RateLimitService is set.
type Document struct {
	Source     Source `json:"source"`
	Line       int    `json:"line,omitempty"` // line of the document's first key in Source.File
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
	Index      int    `json:"index"` // position of the document within its source text

	Mapping          *Mapping          `json:"mapping,omitempty"`
	Module           *Module           `json:"module,omitempty"`
	AuthService      *AuthService      `json:"authService,omitempty"`
	TLSContext       *TLSContext       `json:"tlsContext,omitempty"`
	RateLimitService *RateLimitService `json:"rateLimitService,omitempty"`
}

// Mapping routes requests matching a prefix (and optional constraints) to a service.
type Mapping struct {
	Prefix        string     `json:"prefix"`
	PrefixExact   bool       `json:"prefixExact,omitempty"`
	PrefixRegex   bool       `json:"prefixRegex,omitempty"`
	CaseSensitive bool       `json:"caseSensitive"`
	Method        string     `json:"method,omitempty"`
	MethodRegex   bool       `json:"methodRegex,omitempty"`
	Headers       []KeyMatch `json:"headers,omitempty"`
	Query         []KeyMatch `json:"query,omitempty"`
	Host          string     `json:"host,omitempty"`
	HostRegex     bool       `json:"hostRegex,omitempty"`

	Rewrite         *string       `json:"rewrite,omitempty"` // nil: no rewrite
	RegexRewrite    *RegexRewrite `json:"regexRewrite,omitempty"`
	HostRewrite     string        `json:"hostRewrite,omitempty"`
	AutoHostRewrite bool          `json:"autoHostRewrite,omitempty"`

	Service ServiceRef `json:"service"`
	Weight  *int       `json:"weight,omitempty"`
	Shadow  bool       `json:"shadow,omitempty"`

	TimeoutMs        *int64 `json:"timeoutMs,omitempty"` // nil: Module or default 3000
	IdleTimeoutMs    *int64 `json:"idleTimeoutMs,omitempty"`
	ConnectTimeoutMs int64  `json:"connectTimeoutMs"`

	Upgrades []string `json:"upgrades,omitempty"`

	AddRequestHeaders     []HeaderValue `json:"addRequestHeaders,omitempty"`
	AddResponseHeaders    []HeaderValue `json:"addResponseHeaders,omitempty"`
	RemoveRequestHeaders  []string      `json:"removeRequestHeaders,omitempty"`
	RemoveResponseHeaders []string      `json:"removeResponseHeaders,omitempty"`

	CORS        *CORS        `json:"cors,omitempty"`
	RetryPolicy *RetryPolicy `json:"retryPolicy,omitempty"`

	BypassAuth            bool              `json:"bypassAuth,omitempty"`
	AuthContextExtensions map[string]string `json:"authContextExtensions,omitempty"`

	CircuitBreakers []CircuitBreaker `json:"circuitBreakers,omitempty"`
	LoadBalancer    *LoadBalancer    `json:"loadBalancer,omitempty"`
	GRPC            bool             `json:"grpc,omitempty"`
	TLS             bool             `json:"tls,omitempty"`
	// TLSContext names the TLSContext (in the Mapping's namespace) that originates TLS upstream.
	TLSContext string `json:"tlsContext,omitempty"`

	RateLimits     []RateLimitGroup `json:"rateLimits,omitempty"` // Emissary labels
	LocalRateLimit *LocalRateLimit  `json:"localRateLimit,omitempty"`

	Redirect *Redirect `json:"redirect,omitempty"`

	Precedence int `json:"precedence,omitempty"`
}

// KeyMatch constrains a header or query parameter: present, equal to Value, or matching Value as RE2.
type KeyMatch struct {
	Name    string `json:"name"`
	Value   string `json:"value,omitempty"`
	Regex   bool   `json:"regex,omitempty"`
	Present bool   `json:"present,omitempty"` // only presence is required
}

// RegexRewrite replaces every match of Pattern in the path by Substitution.
type RegexRewrite struct {
	Pattern      string `json:"pattern"`
	Substitution string `json:"substitution"`
}

// HeaderValue is a header to add; Append false overwrites an existing value.
type HeaderValue struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Append bool   `json:"append"`
}

// CORS is a cross-origin policy.
type CORS struct {
	Origins        []string `json:"origins,omitempty"`
	Methods        []string `json:"methods,omitempty"`
	Headers        []string `json:"headers,omitempty"`
	ExposedHeaders []string `json:"exposedHeaders,omitempty"`
	Credentials    bool     `json:"credentials,omitempty"`
	MaxAge         string   `json:"maxAge,omitempty"`
}

// RetryPolicy says when and how often Envoy retries.
type RetryPolicy struct {
	RetryOn       string `json:"retryOn,omitempty"`
	NumRetries    *int64 `json:"numRetries,omitempty"`
	PerTryTimeout string `json:"perTryTimeout,omitempty"` // Go duration syntax, validated
}

// CircuitBreaker holds thresholds for one priority.
type CircuitBreaker struct {
	Priority           string `json:"priority,omitempty"` // "default" or "high"
	MaxConnections     *int64 `json:"maxConnections,omitempty"`
	MaxPendingRequests *int64 `json:"maxPendingRequests,omitempty"`
	MaxRequests        *int64 `json:"maxRequests,omitempty"`
	MaxRetries         *int64 `json:"maxRetries,omitempty"`
}

// LoadBalancer selects the balancing policy and, for hashing policies, what to hash on.
type LoadBalancer struct {
	Policy   string  `json:"policy"` // round_robin, least_request, ring_hash, maglev
	Cookie   *Cookie `json:"cookie,omitempty"`
	Header   string  `json:"header,omitempty"`
	SourceIP bool    `json:"sourceIp,omitempty"`
}

// Cookie is a hash-policy cookie; Envoy generates it when TTL is set and the request lacks it.
type Cookie struct {
	Name string `json:"name"`
	Path string `json:"path,omitempty"`
	TTL  string `json:"ttl,omitempty"`
}

// Redirect turns a Mapping into a redirect to the Mapping's service host.
type Redirect struct {
	Path   string        `json:"path,omitempty"`
	Prefix string        `json:"prefix,omitempty"`
	Regex  *RegexRewrite `json:"regex,omitempty"`
	Code   int           `json:"code"`
}

// Module holds global defaults.
type Module struct {
	ClusterRequestTimeoutMs *int64           `json:"clusterRequestTimeoutMs,omitempty"`
	RegexMaxSize            int              `json:"regexMaxSize"`
	CORS                    *CORS            `json:"cors,omitempty"`
	RetryPolicy             *RetryPolicy     `json:"retryPolicy,omitempty"`
	CircuitBreakers         []CircuitBreaker `json:"circuitBreakers,omitempty"`
	AddRequestHeaders       []HeaderValue    `json:"addRequestHeaders,omitempty"`
	AddResponseHeaders      []HeaderValue    `json:"addResponseHeaders,omitempty"`
	RemoveRequestHeaders    []string         `json:"removeRequestHeaders,omitempty"`
	RemoveResponseHeaders   []string         `json:"removeResponseHeaders,omitempty"`
	UseRemoteAddress        *bool            `json:"useRemoteAddress,omitempty"`
	XFFNumTrustedHops       int64            `json:"xffNumTrustedHops,omitempty"`

	AccessLog *AccessLog `json:"accessLog,omitempty"` // nil: JSON to stdout with the default fields
	// PreserveExternalRequestID keeps a client's x-request-id instead of generating a new one.
	PreserveExternalRequestID bool `json:"preserveExternalRequestId,omitempty"`
	// StrictTransportSecurity is the HSTS header value sent on every HTTPS response ("": none).
	StrictTransportSecurity string `json:"strictTransportSecurity,omitempty"`
	// TLSServer is the legacy Module named tls: config.server, a TLSContext for every host.
	TLSServer *TLSContext `json:"tlsServer,omitempty"`
}

// DefaultRegexMaxSize is Emissary's default bound on an RE2 program size.
const DefaultRegexMaxSize = 200

// AuthService says where Envoy's ext_authz filter sends its checks.
type AuthService struct {
	Service                     ServiceRef   `json:"service"`
	TimeoutMs                   int64        `json:"timeoutMs"`
	IncludeBody                 *IncludeBody `json:"includeBody,omitempty"`
	AllowedRequestHeaders       []string     `json:"allowedRequestHeaders,omitempty"`
	AllowedAuthorizationHeaders []string     `json:"allowedAuthorizationHeaders,omitempty"`
	FailureModeAllow            bool         `json:"failureModeAllow,omitempty"`
	StatusOnError               int          `json:"statusOnError"`
}

// IncludeBody asks Envoy to buffer the request body and send it to the auth service.
type IncludeBody struct {
	MaxBytes     int64 `json:"maxBytes"`
	AllowPartial bool  `json:"allowPartial"`
}
