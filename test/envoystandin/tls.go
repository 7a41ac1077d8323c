package envoystandin

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/kfgate/kfgate/test/routeeval"
)

// downstreamTLS is a filter chain's DownstreamTlsContext: certificates over SDS, ALPN, parameters.
type downstreamTLS struct {
	certs []string
	base  *tls.Config
}

func compileDownstreamTLS(d *tlsv3.DownstreamTlsContext, path string) (*downstreamTLS, error) {
	c := d.GetCommonTlsContext()
	path += ".common_tls_context"
	if c.GetCombinedValidationContext() != nil || c.GetValidationContextSdsSecretConfig() != nil {
		return nil, fmt.Errorf("%s: client certificate validation is not implemented", path)
	}
	out := &downstreamTLS{base: &tls.Config{NextProtos: c.GetAlpnProtocols()}}
	for i, s := range c.GetTlsCertificateSdsSecretConfigs() {
		name, err := sdsName(s, fmt.Sprintf("%s.tls_certificate_sds_secret_configs[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out.certs = append(out.certs, name)
	}
	if len(out.certs) == 0 {
		return nil, fmt.Errorf("%s: a server TLS context needs a certificate", path)
	}
	if err := tlsParams(c.GetTlsParams(), out.base, path+".tls_params"); err != nil {
		return nil, err
	}
	return out, nil
}

func (d *downstreamTLS) secrets() []string { return d.certs }

// config is the handshake's configuration with the certificates as SDS holds them now.
func (d *downstreamTLS) config(cfg *config) (*tls.Config, error) {
	c := d.base.Clone()
	for _, name := range d.certs {
		s := cfg.secrets[name]
		if s == nil || s.cert == nil {
			return nil, fmt.Errorf("secret %q is not a certificate the stand-in holds", name)
		}
		c.Certificates = append(c.Certificates, *s.cert)
	}
	return c, nil
}

// upstreamTLS is a cluster's UpstreamTlsContext: SNI, a client certificate, and the CA and SAN
// matchers that verify the upstream. Without a CA Envoy verifies nothing; with one it verifies the
// chain but not the host name, only the configured SANs.
type upstreamTLS struct {
	base       *tls.Config
	clientCert string
	ca         string
	sans       []sanMatcher
}

type sanMatcher struct {
	kind tlsv3.SubjectAltNameMatcher_SanType
	m    routeeval.StringMatcher
}

func compileUpstreamTLS(u *tlsv3.UpstreamTlsContext, path string) (*upstreamTLS, error) {
	c := u.GetCommonTlsContext()
	path += ".common_tls_context"
	out := &upstreamTLS{base: &tls.Config{NextProtos: c.GetAlpnProtocols(), ServerName: u.GetSni()}}
	if err := tlsParams(c.GetTlsParams(), out.base, path+".tls_params"); err != nil {
		return nil, err
	}
	certs := c.GetTlsCertificateSdsSecretConfigs()
	if len(certs) > 1 {
		return nil, fmt.Errorf("%s: more than one client certificate is not implemented", path)
	}
	var err error
	if len(certs) == 1 {
		if out.clientCert, err = sdsName(certs[0], path+".tls_certificate_sds_secret_configs[0]"); err != nil {
			return nil, err
		}
	}
	sdsCA := c.GetValidationContextSdsSecretConfig()
	if cv := c.GetCombinedValidationContext(); cv != nil {
		sdsCA = cv.GetValidationContextSdsSecretConfig()
		def := cv.GetDefaultValidationContext()
		if def.GetTrustedCa() != nil {
			return nil, fmt.Errorf("%s: an inline trusted_ca next to an SDS one is not implemented", path)
		}
		for i, m := range def.GetMatchTypedSubjectAltNames() {
			sm, err := routeeval.CompileStringMatcher(m.GetMatcher(), fmt.Sprintf("%s.match_typed_subject_alt_names[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out.sans = append(out.sans, sanMatcher{kind: m.GetSanType(), m: sm})
		}
	}
	if sdsCA != nil {
		if out.ca, err = sdsName(sdsCA, path+".validation_context_sds_secret_config"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (u *upstreamTLS) secrets() []string {
	var out []string
	for _, s := range []string{u.clientCert, u.ca} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// config is the client configuration for one connection, with the secrets SDS holds now.
func (u *upstreamTLS) config(cfg *config) (*tls.Config, error) {
	c := u.base.Clone()
	c.InsecureSkipVerify = true // verified below, the way Envoy does
	if u.clientCert != "" {
		s := cfg.secrets[u.clientCert]
		if s == nil || s.cert == nil {
			return nil, fmt.Errorf("client certificate secret %q has not arrived", u.clientCert)
		}
		c.Certificates = []tls.Certificate{*s.cert}
	}
	var roots *x509.CertPool
	if u.ca != "" {
		s := cfg.secrets[u.ca]
		if s == nil || s.roots == nil {
			return nil, fmt.Errorf("CA secret %q has not arrived", u.ca)
		}
		roots = s.roots
	}
	c.VerifyConnection = func(cs tls.ConnectionState) error { return u.verify(cs, roots) }
	return c, nil
}

func (u *upstreamTLS) verify(cs tls.ConnectionState, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the upstream presented no certificate")
	}
	leaf := cs.PeerCertificates[0]
	if roots != nil {
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
			return err
		}
	}
	if len(u.sans) == 0 {
		return nil
	}
	for _, m := range u.sans {
		if m.matches(leaf) {
			return nil
		}
	}
	return errors.New("no subject alternative name of the upstream's certificate matches")
}

func (m sanMatcher) matches(c *x509.Certificate) bool {
	switch m.kind {
	case tlsv3.SubjectAltNameMatcher_DNS:
		for _, n := range c.DNSNames {
			// An exact matcher also matches a wildcard SAN (Envoy's dnsNameMatch).
			if v, exact := m.m.ExactValue(); m.m.Match(n) || exact && wildcardMatch(n, v) {
				return true
			}
		}
	case tlsv3.SubjectAltNameMatcher_URI:
		for _, u := range c.URIs {
			if m.m.Match(u.String()) {
				return true
			}
		}
	case tlsv3.SubjectAltNameMatcher_EMAIL:
		for _, e := range c.EmailAddresses {
			if m.m.Match(e) {
				return true
			}
		}
	case tlsv3.SubjectAltNameMatcher_IP_ADDRESS:
		for _, ip := range c.IPAddresses {
			if m.m.Match(ip.String()) {
				return true
			}
		}
	}
	return false
}

// wildcardMatch: "*.example.com" matches exactly one label in front of example.com.
func wildcardMatch(pattern, name string) bool {
	if !strings.HasPrefix(pattern, "*.") {
		return false
	}
	i := strings.IndexByte(name, '.')
	return i > 0 && strings.EqualFold(name[i:], pattern[1:])
}
