package ir

import (
	"time"

	"github.com/kfgate/kfgate/gateway/mapping"
)

// DefaultAccessLog is the access log without a Module setting: one JSON object per request on
// Envoy's stdout, with the request id that is also sent upstream and back to the client.
var DefaultAccessLog = mapping.AccessLog{Type: "json", Path: "/dev/stdout", JSONFormat: map[string]string{
	"start_time":     "%START_TIME%",
	"method":         "%REQ(:METHOD)%",
	"path":           "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
	"protocol":       "%PROTOCOL%",
	"authority":      "%REQ(:AUTHORITY)%",
	"response_code":  "%RESPONSE_CODE%",
	"response_flags": "%RESPONSE_FLAGS%",
	"bytes_received": "%BYTES_RECEIVED%",
	"bytes_sent":     "%BYTES_SENT%",
	"duration_ms":    "%DURATION%",
	"upstream_ms":    "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
	"client":         "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
	"user_agent":     "%REQ(USER-AGENT)%",
	"request_id":     "%REQ(X-REQUEST-ID)%",
	"upstream_host":  "%UPSTREAM_HOST%",
	"route":          "%ROUTE_NAME%",
}}

// edgeSingletons picks, among name winners sorted by age, the TLSContexts (each one counts; the
// legacy tls Module is one for every host), and the RateLimitService (the oldest wins).
func (r *resolver) edgeSingletons(docs []*mapping.Document) {
	var rls *mapping.Document
	r.origins = map[string]*mapping.Document{}
	for _, d := range docs {
		switch {
		case d.Kind == mapping.KindTLSContext:
			r.contexts = append(r.contexts, d)
			r.origins[Key(d.Namespace, d.Name)] = d
		case d.Kind == mapping.KindModule && d.Name == "tls" && d.Module.TLSServer != nil:
			legacy := *d // still a Module to its diagnostics; a TLSContext to resolveTLS
			legacy.TLSContext, legacy.Module = d.Module.TLSServer, nil
			r.contexts = append(r.contexts, &legacy)
		case d.Kind == mapping.KindRateLimitService:
			rls = r.single(rls, d)
		}
	}
	r.rlsDoc = rls
	if rls == nil {
		return
	}
	s := rls.RateLimitService
	c := r.cluster(*rls, s.Service, clusterOptions{http2: true, tls: s.Service.TLS(), connectTimeoutMs: mapping.DefaultConnectTimeoutMs})
	if c == nil {
		return
	}
	r.rateLimit = &RateLimitService{Cluster: c.Name, Domain: s.Domain, Timeout: time.Duration(s.TimeoutMs) * time.Millisecond,
		FailureModeDeny: s.FailureModeDeny}
}

// origin resolves the TLSContext a Mapping names in tls. A missing one is an error, and the cluster
// still verifies against a CA that never arrives: Envoy refuses the connection rather than sending
// the request to an upstream it was told to verify and cannot.
func (r *resolver) origin(d mapping.Document) *UpstreamTLS {
	name := d.Mapping.TLSContext
	key := Key(d.Namespace, name)
	ctx := r.origins[key]
	if ctx == nil {
		r.report(d, mapping.SeverityError, mapping.ReasonInvalid, "tls",
			"no TLSContext %q in namespace %q: requests to this upstream fail until it exists", name, d.Namespace)
		return &UpstreamTLS{Context: key, CASecret: caSecretName(d.Namespace, "missing-tlscontext-"+name)}
	}
	c := ctx.TLSContext
	switch {
	case len(c.Hosts) > 0:
		r.report(d, mapping.SeverityWarning, mapping.ReasonInvalid, "tls",
			"TLSContext %q serves hosts (downstream); naming it here uses only its protocol settings, and the upstream is not verified: name a TLSContext without hosts that has ca_secret", name)
	case c.CASecret == "":
		r.report(d, mapping.SeverityWarning, mapping.ReasonInvalid, "tls",
			"TLSContext %q has no ca_secret: the upstream's certificate is not verified", name)
	}
	u := &UpstreamTLS{Context: key, SNI: c.SNI, TLSParams: paramsOf(c)}
	if c.CASecret != "" {
		u.CASecret = caSecretName(ctx.Namespace, c.CASecret)
	}
	if c.Secret != "" && len(c.Hosts) == 0 {
		u.ClientSecret = certSecretName(ctx.Namespace, c.Secret)
	}
	return u
}

// rateLimits keeps the label groups written under the RateLimitService's domain.
func (r *resolver) rateLimits(d mapping.Document) []mapping.RateLimitGroup {
	groups := d.Mapping.RateLimits
	if len(groups) == 0 {
		return nil
	}
	if r.rateLimit == nil {
		r.report(d, mapping.SeverityInfo, mapping.ReasonIgnored, "labels", "no RateLimitService is configured: these labels have no effect")
		return nil
	}
	var out []mapping.RateLimitGroup
	for _, g := range groups {
		if g.Domain == r.rateLimit.Domain {
			out = append(out, g)
		}
	}
	if len(out) == 0 {
		r.report(d, mapping.SeverityInfo, mapping.ReasonIgnored, "labels",
			"no labels under the RateLimitService's domain %q: these labels have no effect", r.rateLimit.Domain)
	}
	return out
}
