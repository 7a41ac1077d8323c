package mapping

// TLSContext terminates TLS for its hosts with a certificate from a Kubernetes Secret (type
// kubernetes.io/tls) in its own namespace, or, without hosts, is named by a Mapping's `tls` to
// originate TLS to an upstream (CASecret to verify it, SNI to present).
type TLSContext struct {
	Hosts         []string `json:"hosts,omitempty"`
	Secret        string   `json:"secret,omitempty"`
	CASecret      string   `json:"caSecret,omitempty"`
	SNI           string   `json:"sni,omitempty"`
	ALPNProtocols []string `json:"alpnProtocols,omitempty"`
	MinTLSVersion string   `json:"minTLSVersion,omitempty"` // v1.0 … v1.3
	MaxTLSVersion string   `json:"maxTLSVersion,omitempty"`
	CipherSuites  []string `json:"cipherSuites,omitempty"`
	ECDHCurves    []string `json:"ecdhCurves,omitempty"`
	// RedirectCleartextFrom, when set, is the cleartext port whose requests for these hosts are
	// redirected to HTTPS.
	RedirectCleartextFrom int `json:"redirectCleartextFrom,omitempty"`
}

// RateLimitService names the gRPC service (Envoy's rate limit API, v3) that global rate limits ask.
type RateLimitService struct {
	Service         ServiceRef `json:"service"`
	Domain          string     `json:"domain"`
	TimeoutMs       int64      `json:"timeoutMs"`
	FailureModeDeny bool       `json:"failureModeDeny,omitempty"`
}

// DefaultRateLimitDomain is Emissary's rate limit domain, the key of a Mapping's labels it uses.
const DefaultRateLimitDomain = "ambassador"

// RateLimitGroup is one label group of a Mapping: Envoy sends the RateLimitService one descriptor
// per group, made of its entries in order.
type RateLimitGroup struct {
	Domain  string            `json:"domain"` // the labels key it was written under
	Name    string            `json:"name"`
	Entries []RateLimitAction `json:"entries"`
}

// RateLimitAction is one descriptor entry. Kind is one of the RateLimitAction* constants.
type RateLimitAction struct {
	Kind string `json:"kind"`
	// Key is the descriptor key (generic_key: "generic_key" by default; request_headers: required).
	Key string `json:"key,omitempty"`
	// Value is generic_key's value.
	Value string `json:"value,omitempty"`
	// Header is request_headers' header name; OmitIfNotPresent skips the entry when it is absent
	// (otherwise Envoy sends no descriptor for the whole group).
	Header           string `json:"header,omitempty"`
	OmitIfNotPresent bool   `json:"omitIfNotPresent,omitempty"`
}

// Kinds of rate limit descriptor entries (Envoy's RateLimit.Action).
const (
	RateLimitGenericKey         = "generic_key"
	RateLimitRequestHeaders     = "request_headers"
	RateLimitRemoteAddress      = "remote_address"
	RateLimitSourceCluster      = "source_cluster"
	RateLimitDestinationCluster = "destination_cluster"
)

// LocalRateLimit is a kfgate extension on a Mapping: a token bucket in each Envoy (per replica, not
// shared) holding Burst tokens, refilled with Requests tokens every Per.
type LocalRateLimit struct {
	Requests int64  `json:"requests"`
	Per      string `json:"per"` // second, minute or hour
	Burst    int64  `json:"burst"`
}

// AccessLog configures Envoy's access log (Module envoy_log_*).
type AccessLog struct {
	Type string `json:"type"` // json or text
	// JSONFormat maps field names to Envoy format strings (type json); TextFormat is a format line.
	JSONFormat map[string]string `json:"jsonFormat,omitempty"`
	TextFormat string            `json:"textFormat,omitempty"`
	Path       string            `json:"path"` // /dev/stdout: Envoy's stdout logger; else a file
}
