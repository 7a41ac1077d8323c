package envoystandin

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// secret is an SDS Secret: a certificate with its key, or a CA bundle.
type secret struct {
	cert  *tls.Certificate
	roots *x509.CertPool
}

func compileSecret(s *tlsv3.Secret) (*secret, error) {
	if err := validated(s, "secret"); err != nil {
		return nil, err
	}
	out := &secret{}
	switch {
	case s.GetTlsCertificate() != nil:
		tc := s.GetTlsCertificate()
		cert, err := tls.X509KeyPair(dataSource(tc.GetCertificateChain()), dataSource(tc.GetPrivateKey()))
		if err != nil {
			return nil, fmt.Errorf("tls_certificate: %w", err)
		}
		out.cert = &cert
	case s.GetValidationContext() != nil:
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(dataSource(s.GetValidationContext().GetTrustedCa())) {
			return nil, errors.New("validation_context.trusted_ca: no PEM certificate")
		}
		out.roots = pool
	default:
		return nil, errors.New("neither tls_certificate nor validation_context")
	}
	return out, nil
}

func dataSource(d *corev3.DataSource) []byte {
	if b := d.GetInlineBytes(); b != nil {
		return b
	}
	return []byte(d.GetInlineString())
}

// sdsName is the name an SdsSecretConfig fetches over ADS; a reference without the ADS config
// source would be a static secret of Envoy's bootstrap, which kfgate's bootstrap has none of.
func sdsName(c *tlsv3.SdsSecretConfig, path string) (string, error) {
	if c.GetSdsConfig().GetAds() == nil {
		return "", fmt.Errorf("%s: only SDS over ADS is implemented (sds_config.ads)", path)
	}
	if err := checkConfigSource(c.GetSdsConfig(), path+".sds_config"); err != nil {
		return "", err
	}
	return c.GetName(), nil
}

// checkConfigSource requires ADS and the v3 resource API.
func checkConfigSource(cs *corev3.ConfigSource, path string) error {
	if cs.GetAds() == nil {
		return fmt.Errorf("%s: only ads config sources are implemented", path)
	}
	if cs.GetResourceApiVersion() != corev3.ApiVersion_V3 {
		return fmt.Errorf("%s: resource_api_version must be V3", path)
	}
	return nil
}

// tlsParams maps TlsParameters onto crypto/tls. Cipher suites use BoringSSL's names, "[a|b]" an
// equal-preference group (Go orders suites itself; the set is what matters); Go configures TLS 1.2
// suites only, as BoringSSL's cipher list does.
func tlsParams(p *tlsv3.TlsParameters, c *tls.Config, path string) error {
	var ok bool
	if c.MinVersion, ok = tlsVersions[p.GetTlsMinimumProtocolVersion()]; !ok {
		return fmt.Errorf("%s.tls_minimum_protocol_version: %v is not implemented", path, p.GetTlsMinimumProtocolVersion())
	}
	if c.MaxVersion, ok = tlsVersions[p.GetTlsMaximumProtocolVersion()]; !ok {
		return fmt.Errorf("%s.tls_maximum_protocol_version: %v is not implemented", path, p.GetTlsMaximumProtocolVersion())
	}
	for _, s := range p.GetCipherSuites() {
		for _, name := range strings.Split(strings.Trim(s, "[]"), "|") {
			id, ok := cipherSuites[name]
			if !ok {
				return fmt.Errorf("%s.cipher_suites: unknown cipher %q", path, name)
			}
			c.CipherSuites = append(c.CipherSuites, id)
		}
	}
	for _, name := range p.GetEcdhCurves() {
		id, ok := curves[name]
		if !ok {
			return fmt.Errorf("%s.ecdh_curves: unknown curve %q", path, name)
		}
		c.CurvePreferences = append(c.CurvePreferences, id)
	}
	return nil
}

// TLS_AUTO leaves Go's defaults (TLS 1.2 to 1.3, Envoy's defaults too).
var tlsVersions = map[tlsv3.TlsParameters_TlsProtocol]uint16{
	tlsv3.TlsParameters_TLS_AUTO: 0, tlsv3.TlsParameters_TLSv1_0: tls.VersionTLS10, tlsv3.TlsParameters_TLSv1_1: tls.VersionTLS11,
	tlsv3.TlsParameters_TLSv1_2: tls.VersionTLS12, tlsv3.TlsParameters_TLSv1_3: tls.VersionTLS13,
}

var cipherSuites = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
}

var curves = map[string]tls.CurveID{
	"X25519": tls.X25519, "P-256": tls.CurveP256, "P-384": tls.CurveP384, "P-521": tls.CurveP521,
	"X25519MLKEM768": tls.X25519MLKEM768,
}
