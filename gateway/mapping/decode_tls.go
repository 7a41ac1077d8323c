package mapping

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// TLSVersions are the accepted min_tls_version / max_tls_version values, oldest first.
var TLSVersions = []string{"v1.0", "v1.1", "v1.2", "v1.3"}

// CipherSuites are the cipher names Envoy's TLS library (BoringSSL) accepts in cipher_suites. They
// apply to TLS 1.2 and older; TLS 1.3 suites are not configurable.
var CipherSuites = []string{
	"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
	"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
	"ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-PSK-CHACHA20-POLY1305",
	"ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-PSK-AES128-CBC-SHA",
	"ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA", "ECDHE-PSK-AES256-CBC-SHA",
	"AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "PSK-AES128-CBC-SHA", "AES256-SHA",
	"PSK-AES256-CBC-SHA", "DES-CBC3-SHA",
}

// ECDHCurves are the curve names Envoy accepts in ecdh_curves.
var ECDHCurves = []string{"X25519", "P-256", "P-384", "P-521", "X25519MLKEM768"}

var (
	// tlsHost is a host name, optionally with a leading "*." wildcard label, or "*" alone.
	tlsHost   = regexp.MustCompile(`^(\*|(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)$`)
	alpnToken = regexp.MustCompile(`^[a-z0-9][a-z0-9./-]*$`)
)

// Emissary TLSContext fields kfgate recognises but does not implement.
var unsupportedTLSFields = map[string]string{
	"cert_chain_file":    "certificates come from Secrets (or PEM files next to the documents), not from paths inside Envoy",
	"private_key_file":   "certificates come from Secrets (or PEM files next to the documents), not from paths inside Envoy",
	"secret_namespacing": "a TLSContext only reads Secrets in its own namespace",
	"crl_secret":         "certificate revocation lists are not implemented",
	"v3CRLSecret":        "certificate revocation lists are not implemented",
}

// decodeTLSContext reads a TLSContext (or the legacy tls Module's server block, hostsDefault "*").
func decodeTLSContext(o *object, hostsDefault []string) *TLSContext {
	t := &TLSContext{}
	for i, h := range o.strList("hosts", false) {
		h = strings.ToLower(strings.TrimSpace(h))
		if !tlsHost.MatchString(h) {
			o.r.errorf(o.value("hosts"), fmt.Sprintf("%s[%d]", o.field("hosts"), i),
				"%q is not a host name (a DNS name, optionally starting with \"*.\", or \"*\")", h)
			continue
		}
		if slices.Contains(t.Hosts, h) {
			o.r.errorf(o.value("hosts"), fmt.Sprintf("%s[%d]", o.field("hosts"), i), "%q is listed twice", h)
			continue
		}
		t.Hosts = append(t.Hosts, h)
	}
	if !o.has("hosts") {
		t.Hosts = hostsDefault
	}
	t.Secret = secretRef(o, "secret")
	t.CASecret = secretRef(o, "ca_secret")
	if len(t.Hosts) > 0 && t.Secret == "" && !o.r.failed && !o.has("secret") {
		o.r.errorf(o.node, o.field("secret"), "is required with hosts: the Secret (type kubernetes.io/tls) holding the certificate and key")
	}
	if len(t.Hosts) > 0 && t.CASecret != "" {
		o.r.report(o.keyNode("ca_secret"), SeverityError, ReasonUnsupported, o.field("ca_secret"),
			"client certificate validation is not implemented; ca_secret is only for a TLSContext without hosts that a Mapping names in tls, to verify the upstream")
	}
	// Asking for client certificate validation is an error, not a warning: serving HTTPS that
	// accepts any client where the author asked for a check would fail open.
	for _, k := range []string{"cert_required", "cacert_chain_file"} {
		if v := o.get(k); v != nil {
			if b, ok := scalarBool(v); ok && !b {
				continue // cert_required: false asks for nothing
			}
			o.r.report(o.keyNode(k), SeverityError, ReasonUnsupported, o.field(k), "client certificate validation is not implemented")
		}
	}
	if sni, ok := o.str("sni"); ok {
		if t.SNI = strings.ToLower(sni); !tlsHost.MatchString(t.SNI) || strings.Contains(t.SNI, "*") || len(t.SNI) > 253 {
			o.r.errorf(o.value("sni"), o.field("sni"), "%q is not a host name", sni)
		}
	}
	for i, p := range o.strList("alpn_protocols", true) {
		if p = strings.ToLower(p); !alpnToken.MatchString(p) {
			o.r.errorf(o.value("alpn_protocols"), fmt.Sprintf("%s[%d]", o.field("alpn_protocols"), i), "%q is not a protocol name (h2, http/1.1)", p)
			continue
		}
		t.ALPNProtocols = append(t.ALPNProtocols, p)
	}
	t.MinTLSVersion = tlsVersion(o, "min_tls_version")
	t.MaxTLSVersion = tlsVersion(o, "max_tls_version")
	if t.MinTLSVersion != "" && t.MaxTLSVersion != "" && slices.Index(TLSVersions, t.MinTLSVersion) > slices.Index(TLSVersions, t.MaxTLSVersion) {
		o.r.errorf(o.value("min_tls_version"), o.field("min_tls_version"), "%s is newer than max_tls_version %s", t.MinTLSVersion, t.MaxTLSVersion)
	}
	t.CipherSuites = namedList(o, "cipher_suites", CipherSuites, true)
	t.ECDHCurves = namedList(o, "ecdh_curves", ECDHCurves, false)
	if len(t.CipherSuites) > 0 && t.MinTLSVersion == "v1.3" {
		o.r.report(o.keyNode("cipher_suites"), SeverityWarning, ReasonIgnored, o.field("cipher_suites"),
			"has no effect with min_tls_version v1.3: TLS 1.3 cipher suites are not configurable")
	}
	if p, ok := o.integer("redirect_cleartext_from", 1, 65535); ok {
		t.RedirectCleartextFrom = int(p)
		if len(t.Hosts) == 0 {
			o.r.errorf(o.value("redirect_cleartext_from"), o.field("redirect_cleartext_from"), "needs hosts: only the hosts kfgate terminates TLS for can be redirected to HTTPS")
		}
	}
	return t
}

// secretRef reads a Secret name. Only the TLSContext's own namespace is searched: "name.namespace"
// would let one namespace's annotation serve another namespace's certificate.
func secretRef(o *object, key string) string {
	s, ok := o.str(key)
	if !ok {
		return ""
	}
	if !IsObjectName(s) {
		o.r.errorf(o.value(key), o.field(key), "%q is not a Secret name", s)
		return ""
	}
	return s
}

func tlsVersion(o *object, key string) string {
	v, ok := o.str(key)
	if !ok {
		return ""
	}
	norm := strings.ToLower(v)
	if !strings.HasPrefix(norm, "v") {
		norm = "v" + norm
	}
	if !slices.Contains(TLSVersions, norm) {
		o.r.errorf(o.value(key), o.field(key), "unknown TLS version %q (one of %s)", v, strings.Join(TLSVersions, ", "))
		return ""
	}
	return norm
}

// namedList reads a list whose entries must be known names; cipher lists may use BoringSSL's
// equal-preference groups "[A|B]".
func namedList(o *object, key string, known []string, groups bool) []string {
	var out []string
	for i, e := range o.strList(key, false) {
		names := []string{e}
		if groups && strings.HasPrefix(e, "[") && strings.HasSuffix(e, "]") {
			names = strings.Split(e[1:len(e)-1], "|")
		}
		for _, n := range names {
			if !slices.Contains(known, n) {
				hint := ""
				if s := closest(n, known); s != "" {
					hint = fmt.Sprintf("; did you mean %q?", s)
				}
				o.r.errorf(o.value(key), fmt.Sprintf("%s[%d]", o.field(key), i), "unknown name %q%s", n, hint)
			}
		}
		out = append(out, e)
	}
	return out
}

// decodeRateLimitService reads a RateLimitService; only gRPC with Envoy's v3 API is supported.
func decodeRateLimitService(o *object, namespace string) *RateLimitService {
	s := &RateLimitService{Domain: DefaultRateLimitDomain, TimeoutMs: 20}
	if raw, ok := o.str("service"); ok {
		ref, err := ParseService(raw, namespace)
		if err != nil {
			o.r.errorf(o.value("service"), o.field("service"), "%q: %v", raw, err)
		}
		s.Service = ref
	} else if !o.r.failed {
		o.r.errorf(o.node, o.field("service"), "is required: the gRPC rate limit service (Envoy's rls v3 API)")
	}
	if d, ok := o.str("domain"); ok {
		if d == "" {
			o.r.errorf(o.value("domain"), o.field("domain"), "must not be empty")
		}
		s.Domain = d
	}
	if n, ok := o.integer("timeout_ms", 1, maxMs); ok {
		s.TimeoutMs = n
	}
	s.FailureModeDeny, _ = o.boolean("failure_mode_deny")
	if pv, ok := o.str("protocol_version"); ok && pv != "v3" {
		o.r.errorf(o.value("protocol_version"), o.field("protocol_version"), "only v3 is supported, got %q", pv)
	}
	return s
}
