package ir

import (
	"fmt"
	"time"

	"github.com/kfgate/kfgate/gateway/mapping"
)

// Resolve turns valid documents into a route table. Problems that only appear when documents meet
// (duplicates, collisions, weights over 100, unknown Service ports) are returned as diagnostics on
// the document that loses; everything else keeps working.
func Resolve(in Input) (*Config, []mapping.Diagnostic) {
	r := &resolver{in: in, clusters: map[string]*Cluster{}, namespaces: map[string]bool{}}
	if r.in.Options.ClusterDomain == "" {
		r.in.Options.ClusterDomain = "cluster.local"
	}
	if r.in.Options.ListenerPort == 0 {
		r.in.Options.ListenerPort = 8080
	}
	for _, s := range in.Services {
		r.namespaces[s.Namespace] = true
	}
	docs := sortDocuments(in.Documents)
	mappings := r.pickSingletons(docs)
	cfg := &Config{Listener: r.listener()}
	routes := r.routes(mappings)
	cfg.VirtualHosts = r.virtualHosts(routes)
	cfg.Listener.CORS = usesCORS(cfg.VirtualHosts)
	cfg.Clusters = r.referencedClusters(cfg)
	return cfg, r.diags
}

type resolver struct {
	in         Input
	diags      []mapping.Diagnostic
	module     *mapping.Module
	auth       *Auth
	clusters   map[string]*Cluster
	namespaces map[string]bool
}

func (r *resolver) report(doc mapping.Document, sev mapping.Severity, reason, field, format string, args ...any) {
	r.diags = append(r.diags, mapping.Diagnostic{
		Source: doc.Source, Line: doc.Line, DocKind: doc.Kind, DocName: doc.Name, Field: field,
		Severity: sev, Reason: reason, Message: fmt.Sprintf(format, args...),
	})
}

// pickSingletons keeps the oldest Module and AuthService, rejects duplicate Mapping names within a
// namespace (oldest wins) and returns the surviving Mappings in age order.
func (r *resolver) pickSingletons(docs []*mapping.Document) []*mapping.Document {
	var mappings []*mapping.Document
	seen := make(map[string]*mapping.Document, len(docs))
	var module, auth *mapping.Document
	for _, d := range docs {
		key := d.Kind + "/" + d.Namespace + "/" + d.Name
		if first, dup := seen[key]; dup {
			r.report(*d, mapping.SeverityError, mapping.ReasonDuplicate, "name",
				"another %s named %q in namespace %q already exists in %s (the older one wins); rename this one",
				d.Kind, d.Name, d.Namespace, first.Source.Object())
			continue
		}
		seen[key] = d
		switch d.Kind {
		case mapping.KindMapping:
			mappings = append(mappings, d)
		case mapping.KindModule:
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
	return mappings
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
	l := Listener{Port: r.in.Options.ListenerPort, Auth: r.auth, XFFNumTrustedHops: uint32(r.module.XFFNumTrustedHops)}
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

func usesCORS(vhosts []*VirtualHost) bool {
	for _, vh := range vhosts {
		for _, rt := range vh.Routes {
			if rt.CORS != nil {
				return true
			}
		}
	}
	return false
}
