package mapping

import (
	"fmt"
	"regexp"
	"strings"
)

// Trust: when an installation names its trusted namespaces (Options.Trusted), the annotations of
// Services elsewhere (tenants': a Kubeflow profile's namespace, where users may create Services) may
// only route paths to their own namespace's Services behind the auth check. Everything that acts for
// every route or every user is reserved to trusted namespaces, because one tenant could otherwise
// disable authentication, forge the identity the gateway vouches for, or take over a host:
//   - Module, AuthService and RateLimitService documents, and TLSContexts that serve hosts;
//   - Mappings with bypass_auth, host, precedence, shadow, redirect, labels (global rate limit
//     descriptors), a host_rewrite outside the namespace, a service in another namespace or outside the
//     cluster, or request header changes to headers the gateway owns (GatewayHeader);
//   - Mappings whose paths leave the tenant path spaces (Options.TenantPaths): a tenant never
//     matches a path of the shared apps (/, /dex/, /jupyter/...) nor another namespace's space.
//
// A trusted Mapping also wins a path over a tenant's, however old (compareAge in gateway/ir), and a
// tenant's route is never shared with another namespace (gateway/ir's groups); an ExternalName
// Service of a tenant may only name its own namespace's Services or Knative's local gateway.

// ReasonUntrusted is the diagnostic reason for a document a tenant namespace may not carry.
const ReasonUntrusted = "UntrustedNamespace"

// NamespacePlaceholder stands for a tenant's own namespace in Options.TenantPaths.
const NamespacePlaceholder = "{namespace}"

// DefaultTenantPaths are where tenants' Mappings may match when Options.TenantPaths is empty: a
// space named after the namespace, its notebooks' (Kubeflow's /notebook/<ns>/) and the models'
// (/models/, shared under the default /models/{name}/ template, whose names kfgate assigns).
var DefaultTenantPaths = []string{"/" + NamespacePlaceholder + "/", "/notebook/" + NamespacePlaceholder + "/", "/models/"}

// GatewayHeader reports whether a request header is the gateway's to set and never a route's or an
// app's: the identity kfgate authn vouches for (kubeflow-userid, kubeflow-groups), credentials,
// forwarding, tracing and Envoy's headers, and hop-by-hop ones. name is lower-case.
// Underscores count as dashes: many servers (WSGI, CGI, nginx) read kubeflow_userid as kubeflow-userid.
func GatewayHeader(name string) bool {
	name = strings.ReplaceAll(strings.ToLower(name), "_", "-")
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

// IsTrusted reports whether documents from src may use everything: files' bare documents always, a
// Service's annotations when its namespace is trusted (all are when Options.Trusted is nil).
func (o Options) IsTrusted(src Source) bool {
	return o.Trusted == nil || src.Kind != "Service" || o.Trusted(src.Namespace)
}

// tenantPaths are the path spaces of namespace ns.
func (o Options) tenantPaths(ns string) []string {
	spaces := o.TenantPaths
	if len(spaces) == 0 {
		spaces = DefaultTenantPaths
	}
	out := make([]string, len(spaces))
	for i, p := range spaces {
		out[i] = strings.ReplaceAll(p, NamespacePlaceholder, ns)
	}
	return out
}

// untrusted returns the field and the reason a tenant's document is refused, or "" when it is not.
func untrusted(doc *Document, opts Options) (field, why string) {
	switch doc.Kind {
	case KindModule, KindAuthService, KindRateLimitService:
		return "kind", fmt.Sprintf("kind %s applies to every route", doc.Kind)
	case KindTLSContext:
		if doc.TLSContext != nil && len(doc.TLSContext.Hosts) > 0 {
			return "hosts", "a TLSContext with hosts serves those hosts for everyone (one without hosts, for upstream TLS, is allowed)"
		}
	case KindMapping:
		if doc.Mapping == nil {
			return "", ""
		}
		if field, why := untrustedMapping(doc.Mapping, doc.Namespace); field != "" {
			return field, why
		}
		return untrustedPath(doc.Mapping, opts.tenantPaths(doc.Namespace))
	}
	return "", ""
}

func untrustedMapping(m *Mapping, ns string) (field, why string) {
	switch {
	case m.BypassAuth:
		return "bypass_auth", "its routes would skip the login for every user, on the gateway's own origin"
	case m.Host != "":
		return "host", "a host is shared by every namespace"
	case m.Precedence != 0:
		return "precedence", "precedence would put its routes before other namespaces' routes"
	case m.Shadow:
		return "shadow", "a shadow would copy other routes' traffic, with their users' identity"
	case m.Redirect != nil:
		return "redirect", "a redirect from the gateway's origin may lead anywhere"
	case len(m.RateLimits) > 0:
		return "labels", "rate limit descriptors are counted against buckets shared with every namespace"
	case m.HostRewrite != "" && !OwnHost(m.HostRewrite, ns):
		return "host_rewrite", fmt.Sprintf("%q is not a name of namespace %s (<name>.%s[.svc[.<cluster domain>]])", m.HostRewrite, ns, ns)
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

// OwnHost reports whether host names a Service of namespace ns: name.ns, name.ns.svc, name.ns.svc.<domain>.
func OwnHost(host, ns string) bool {
	labels := strings.Split(strings.ToLower(host), ".")
	return len(labels) >= 2 && labels[0] != "" && labels[1] == ns && (len(labels) == 2 || labels[2] == "svc")
}

// untrustedPath refuses a Mapping that may match a path outside the tenant's spaces. What it can
// match starts with its claim: the prefix, or a prefix_regex's literal beginning (Envoy matches the
// regex against the whole path), lower-cased when matching ignores case.
func untrustedPath(m *Mapping, spaces []string) (field, why string) {
	claim := m.Prefix
	if m.PrefixRegex {
		re, err := regexp.Compile(m.Prefix)
		if err != nil {
			return "prefix", "the regex does not compile"
		}
		claim, _ = re.LiteralPrefix()
	}
	if !m.CaseSensitive {
		claim = strings.ToLower(claim)
	}
	for _, sp := range spaces {
		if strings.HasPrefix(claim, sp) {
			return "", ""
		}
	}
	return "prefix", fmt.Sprintf("%q may match paths outside the namespace's path spaces %s (--tenant-paths)", m.Prefix, strings.Join(spaces, ", "))
}

// checkTrust drops a tenant's document that uses what only trusted namespaces may, with an error.
func checkTrust(src Source, doc *Document, opts Options) *Diagnostic {
	if opts.IsTrusted(src) {
		return nil
	}
	doc.Source.Tenant = true
	field, why := untrusted(doc, opts)
	if field == "" {
		return nil
	}
	return &Diagnostic{Source: src, Line: doc.Line, DocKind: doc.Kind, DocName: doc.Name, Field: field, Severity: SeverityError,
		Reason: ReasonUntrusted, Message: fmt.Sprintf("namespace %s is not trusted (--trusted-namespaces): %s; the document is ignored", src.Namespace, why)}
}
