package mapping

import (
	"fmt"
	"strings"
)

// Trust: when an installation names its trusted namespaces (Options.Trusted), the annotations of
// Services elsewhere (tenants': a Kubeflow profile's namespace, where users may create Services) may
// only route paths to their own namespace's Services behind the auth check. Everything that acts for
// every route or every user is reserved to trusted namespaces, because one tenant could otherwise
// disable authentication, forge the identity the gateway vouches for, or take over a host:
//   - Module, AuthService and RateLimitService documents, and TLSContexts that serve hosts;
//   - Mappings with bypass_auth, host, precedence, a service in another namespace or outside the
//     cluster, or request header changes to headers the gateway owns (GatewayHeader).
//
// A trusted Mapping also wins a path over a tenant's, however old (compareAge in gateway/ir).

// ReasonUntrusted is the diagnostic reason for a document a tenant namespace may not carry.
const ReasonUntrusted = "UntrustedNamespace"

// GatewayHeader reports whether a request header is the gateway's to set and never a route's or an
// app's: the identity kfgate authn vouches for (kubeflow-userid, kubeflow-groups), credentials,
// forwarding, tracing and Envoy's headers, and hop-by-hop ones. name is lower-case.
func GatewayHeader(name string) bool {
	switch name {
	case "host", "authorization", "cookie", "x-request-id", "forwarded", "connection", "upgrade", "te",
		"transfer-encoding", "keep-alive", "content-length", "expect":
		return true
	}
	for _, p := range []string{"kubeflow-", "x-forwarded-", "x-envoy-", "proxy-", "x-kfgate-", "x-auth-request-"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// trusted reports whether documents from src may use everything: files' bare documents always, a
// Service's annotations when its namespace is trusted (all are when Options.Trusted is nil).
func (o Options) trusted(src Source) bool {
	return o.Trusted == nil || src.Kind != "Service" || o.Trusted(src.Namespace)
}

// untrusted returns the field and the reason a tenant's document is refused, or "" when it is not.
func untrusted(doc *Document) (field, why string) {
	switch doc.Kind {
	case KindModule, KindAuthService, KindRateLimitService:
		return "kind", fmt.Sprintf("kind %s applies to every route", doc.Kind)
	case KindTLSContext:
		if doc.TLSContext != nil && len(doc.TLSContext.Hosts) > 0 {
			return "hosts", "a TLSContext with hosts serves those hosts for everyone (one without hosts, for upstream TLS, is allowed)"
		}
	case KindMapping:
		return untrustedMapping(doc.Mapping, doc.Namespace)
	}
	return "", ""
}

func untrustedMapping(m *Mapping, ns string) (field, why string) {
	switch {
	case m == nil:
		return "", ""
	case m.BypassAuth:
		return "bypass_auth", "its routes would skip the login for every user, on the gateway's own origin"
	case m.Host != "":
		return "host", "a host is shared by every namespace"
	case m.Precedence != 0:
		return "precedence", "precedence would put its routes before other namespaces' routes"
	case m.Service.Name == "" || m.Service.Namespace != ns:
		return "service", fmt.Sprintf("%q is not a Service of namespace %s; a tenant routes only to its own Services", m.Service.Raw, ns)
	}
	for _, h := range m.AddRequestHeaders {
		if GatewayHeader(h.Name) {
			return "add_request_headers", fmt.Sprintf("%s is the gateway's header (identity, credentials or forwarding)", h.Name)
		}
	}
	for _, h := range m.RemoveRequestHeaders {
		if GatewayHeader(h) {
			return "remove_request_headers", fmt.Sprintf("%s is the gateway's header (identity, credentials or forwarding)", h)
		}
	}
	return "", ""
}

// checkTrust drops a tenant's document that uses what only trusted namespaces may, with an error.
func checkTrust(src Source, doc *Document, opts Options) *Diagnostic {
	if opts.trusted(src) {
		return nil
	}
	doc.Source.Tenant = true
	field, why := untrusted(doc)
	if field == "" {
		return nil
	}
	return &Diagnostic{Source: src, Line: doc.Line, DocKind: doc.Kind, DocName: doc.Name, Field: field, Severity: SeverityError,
		Reason: ReasonUntrusted, Message: fmt.Sprintf("namespace %s is not trusted (--trusted-namespaces): %s; the document is ignored", src.Namespace, why)}
}
