package ir

import (
	"fmt"
	"time"

	"github.com/kfgate/kfgate/gateway/mapping"
)

type resolver struct {
	in         Input
	diags      []mapping.Diagnostic
	module     *mapping.Module
	auth       *Auth
	rateLimit  *RateLimitService
	rlsDoc     *mapping.Document
	contexts   []*mapping.Document          // TLSContexts (and the legacy tls Module), age order
	origins    map[string]*mapping.Document // TLSContexts by namespace/name, for Mappings' tls
	clusters   map[string]*Cluster
	namespaces map[string]bool
	created    []string // clusters made since the caller last cleared it
}

func (r *resolver) report(doc mapping.Document, sev mapping.Severity, reason, field, format string, args ...any) {
	r.diags = append(r.diags, mapping.Diagnostic{
		Source: doc.Source, Line: doc.Line, DocKind: doc.Kind, DocName: doc.Name, Field: field,
		Severity: sev, Reason: reason, Message: fmt.Sprintf(format, args...),
	})
}

// singletons picks the global Module (named ambassador or kfgate) and the AuthService among name
// winners sorted by age: the oldest wins, the others are reported.
func (r *resolver) singletons(docs []*mapping.Document) (module, auth *mapping.Document) {
	for _, d := range docs {
		switch d.Kind {
		case mapping.KindModule:
			if d.Name == "tls" {
				continue // the legacy TLS Module: a TLSContext for every host (edgeSingletons)
			}
			if d.Name != "ambassador" && d.Name != "kfgate" {
				r.report(*d, mapping.SeverityWarning, mapping.ReasonUnsupported, "name",
					"only the Module named ambassador (or kfgate) holds global settings; Module %q is ignored", d.Name)
				continue
			}
			module = r.single(module, d)
		case mapping.KindAuthService:
			auth = r.single(auth, d)
		}
	}
	r.module = &mapping.Module{RegexMaxSize: mapping.DefaultRegexMaxSize}
	if module != nil {
		r.module = module.Module
	}
	if auth != nil {
		r.auth = r.authConfig(*auth)
	} else if r.in.AuthDeclared {
		r.auth = r.failClosedAuth()
	}
	r.edgeSingletons(docs)
	return module, auth
}

func (r *resolver) single(kept, d *mapping.Document) *mapping.Document {
	if kept == nil {
		return d
	}
	r.report(*d, mapping.SeverityError, mapping.ReasonConflict, "kind",
		"only one %s is allowed; %s %q from %s is older and wins", d.Kind, kept.Kind, kept.Name, kept.Source.Object())
	return kept
}

func (r *resolver) listener() Listener {
	l := Listener{Port: r.in.Options.ListenerPort, Auth: r.auth, XFFNumTrustedHops: uint32(r.module.XFFNumTrustedHops),
		RateLimit: r.rateLimit, AccessLog: DefaultAccessLog, PreserveExternalRequestID: r.module.PreserveExternalRequestID}
	if a := r.module.AccessLog; a != nil {
		l.AccessLog = *a
		if a.Type == "json" && len(a.JSONFormat) == 0 {
			l.AccessLog.JSONFormat = DefaultAccessLog.JSONFormat
		}
	}
	if r.module.UseRemoteAddress != nil {
		l.UseRemoteAddress = *r.module.UseRemoteAddress
	} else {
		l.UseRemoteAddress = true // kfgate is the edge: trust the peer, not a client-sent XFF
	}
	return l
}

// defaultAuthHeaders are always sent to the auth service when allowed_request_headers narrows the
// set: without them it cannot see sessions, tokens or whether the client is a browser.
var defaultAuthHeaders = []string{"authorization", "cookie", "accept", "x-requested-with", "content-type", "user-agent", "x-forwarded-proto", "x-forwarded-host"}

func (r *resolver) authConfig(d mapping.Document) *Auth {
	a := d.AuthService
	c := r.cluster(d, a.Service, clusterOptions{http2: true, tls: a.Service.TLS(), connectTimeoutMs: mapping.DefaultConnectTimeoutMs})
	if c == nil {
		return nil
	}
	out := &Auth{Cluster: c.Name, Timeout: time.Duration(a.TimeoutMs) * time.Millisecond, IncludeBody: a.IncludeBody,
		FailureModeAllow: a.FailureModeAllow, StatusOnError: a.StatusOnError}
	if len(a.AllowedRequestHeaders) > 0 {
		out.AllowedHeaders = dedupe(append(append([]string{}, defaultAuthHeaders...), a.AllowedRequestHeaders...))
	}
	if len(a.AllowedAuthorizationHeaders) > 0 {
		r.report(d, mapping.SeverityInfo, mapping.ReasonIgnored, "allowed_authorization_headers",
			"with proto: grpc the auth service's OK response decides which headers reach the upstream; this field has no effect")
	}
	return out
}

// UnavailableAuthCluster has no endpoints: ext_authz calls to it fail, and Envoy denies the request.
const UnavailableAuthCluster = "kfgate/auth-unavailable"

// failClosedAuth keeps the ext_authz filter when the AuthService is invalid: with no auth service to
// answer, Envoy denies (403) every request on routes that do not bypass auth.
func (r *resolver) failClosedAuth() *Auth {
	r.clusters[UnavailableAuthCluster] = &Cluster{Name: UnavailableAuthCluster, Kind: ClusterStatic, HTTP2: true,
		ConnectTimeout: time.Second}
	return &Auth{Cluster: UnavailableAuthCluster, Timeout: time.Second, StatusOnError: 403}
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := in[:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
