package ir

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kfgate/kfgate/gateway/mapping"
)

// Secret is what kfgate knows about a Kubernetes Secret a TLSContext may name. Data holds only the
// keys kfgate reads (tls.crt, tls.key, ca.crt) and is never serialised.
type Secret struct {
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	Type      string            `json:"type"`
	Data      map[string][]byte `json:"-"`
}

// Keys of a kubernetes.io/tls Secret kfgate reads, and its type.
const (
	SecretTypeTLS = "kubernetes.io/tls"
	SecretCert    = "tls.crt"
	SecretKey     = "tls.key"
	SecretCA      = "ca.crt"
)

// HTTPSListener is the TLS listener: one filter chain per TLSContext, chosen by SNI.
type HTTPSListener struct {
	Port   uint32         `json:"port"`
	Chains []*FilterChain `json:"chains"`
	// StrictTransportSecurity is the HSTS header added to every HTTPS response ("": none).
	StrictTransportSecurity string `json:"strictTransportSecurity,omitempty"`
}

// FilterChain terminates TLS for a TLSContext's hosts.
type FilterChain struct {
	Name        string   `json:"name"`                  // namespace/name of the TLSContext
	ServerNames []string `json:"serverNames,omitempty"` // empty: the default chain (host "*")
	Secret      string   `json:"secret"`                // SDS name of the certificate
	TLSParams
}

// TLSParams are the protocol settings of a TLS context, downstream or upstream.
type TLSParams struct {
	ALPNProtocols []string `json:"alpnProtocols,omitempty"`
	MinVersion    string   `json:"minVersion,omitempty"`
	MaxVersion    string   `json:"maxVersion,omitempty"`
	CipherSuites  []string `json:"cipherSuites,omitempty"`
	ECDHCurves    []string `json:"ecdhCurves,omitempty"`
}

// UpstreamTLS is the TLSContext a Mapping names in tls: how the cluster originates TLS.
type UpstreamTLS struct {
	Context string `json:"context"` // namespace/name
	SNI     string `json:"sni,omitempty"`
	// CASecret is the SDS name of the CA bundle that verifies the upstream ("": not verified).
	CASecret string `json:"caSecret,omitempty"`
	// ClientSecret is the SDS name of the client certificate presented upstream ("": none).
	ClientSecret string `json:"clientSecret,omitempty"`
	TLSParams
}

// TLSSecret is one SDS Secret: a certificate with its key, or a CA bundle. The PEM is never
// serialised; Info describes the certificate for diagnostics and render.
type TLSSecret struct {
	Name string   `json:"name"`
	Info CertInfo `json:"info"`
	Cert []byte   `json:"-"`
	Key  []byte   `json:"-"`
	CA   []byte   `json:"-"` // set for a validation secret
}

// CertInfo describes a certificate without its key.
type CertInfo struct {
	Subject  string    `json:"subject"`
	DNSNames []string  `json:"dnsNames,omitempty"`
	NotAfter time.Time `json:"notAfter"`
	SHA256   string    `json:"sha256"` // of the leaf (or first CA) certificate, DER
	Certs    int       `json:"certs"`  // certificates in the chain or bundle
}

// SDS names: one Secret can be both a certificate and a CA bundle.
func certSecretName(ns, name string) string { return "kfgate/tls/" + ns + "/" + name }
func caSecretName(ns, name string) string   { return "kfgate/ca/" + ns + "/" + name }

// tlsResult is what the TLSContexts and Secrets resolve to.
type tlsResult struct {
	https    *HTTPSListener
	redirect []string // TLS hosts whose cleartext requests are redirected to HTTPS
	secrets  []*TLSSecret
	refs     map[string]bool       // Secret keys ("namespace/name") the TLSContexts read
	good     map[string]*TLSSecret // the certificates served, by SDS name: the next resolution's last good
	diags    []mapping.Diagnostic
}

// resolveTLS builds the HTTPS listener and the SDS secrets. A TLSContext whose Secret is missing or
// invalid gets no filter chain (and a diagnostic): a chain without its certificate would keep the
// whole listener from starting. Rotation of a valid Secret changes only the SDS secret.
func resolveTLS(contexts []*mapping.Document, secrets map[string]*Secret, last map[string]*TLSSecret, opts Options,
	module *mapping.Module, now time.Time) tlsResult {
	res := tlsResult{refs: map[string]bool{}, good: map[string]*TLSSecret{}}
	r := &resolver{}
	owner := map[string]*mapping.Document{}
	published := map[string]bool{}
	var chains []*FilterChain
	for _, d := range contexts {
		c := d.TLSContext
		if c.Secret != "" {
			res.refs[Key(d.Namespace, c.Secret)] = true
		}
		if c.CASecret != "" {
			res.refs[Key(d.Namespace, c.CASecret)] = true
			if s, ok := r.caSecret(*d, secrets[Key(d.Namespace, c.CASecret)], c.CASecret); ok && !published[s.Name] {
				published[s.Name] = true
				res.secrets = append(res.secrets, s)
			}
		}
		if len(c.Hosts) == 0 {
			// Origination only: its secret is the client certificate presented upstream.
			if c.Secret == "" {
				continue
			}
			if s, ok := r.certSecret(*d, secrets[Key(d.Namespace, c.Secret)], c.Secret, nil, now); ok && !published[s.Name] {
				published[s.Name] = true
				res.secrets = append(res.secrets, s)
			}
			continue
		}
		if c.RedirectCleartextFrom != 0 && uint32(c.RedirectCleartextFrom) != opts.ListenerPort {
			r.report(*d, mapping.SeverityError, mapping.ReasonInvalid, "redirect_cleartext_from",
				"%d is not kfgate's cleartext listener port %d (--listener-port); no redirect is made", c.RedirectCleartextFrom, opts.ListenerPort)
		}
		// The certificate first, the hosts after: a TLSContext that cannot serve does not keep a
		// valid one from serving its hosts.
		sec := secrets[Key(d.Namespace, c.Secret)]
		s, ok := r.certSecret(*d, sec, c.Secret, c.Hosts, now)
		if !ok && sec != nil && last[certSecretName(d.Namespace, c.Secret)] != nil {
			// A broken renewal (a half-written file, a key that does not match): the last valid
			// certificate keeps serving, as the last good configuration does, until it is fixed or
			// the Secret is deleted.
			s, ok = last[certSecretName(d.Namespace, c.Secret)], true
			r.report(*d, mapping.SeverityWarning, mapping.ReasonStale, "secret",
				"Secret %s/%s is invalid (see the error above); its last valid certificate keeps serving", d.Namespace, c.Secret)
		}
		if !ok || !r.ownHosts(*d, c.Hosts, owner) {
			continue
		}
		res.good[s.Name] = s
		if !published[s.Name] {
			published[s.Name] = true
			res.secrets = append(res.secrets, s)
		}
		fc := &FilterChain{Name: ChainName(d.Kind, d.Namespace, d.Name), Secret: s.Name, TLSParams: paramsOf(c)}
		if !slices.Contains(c.Hosts, WildcardHost) {
			fc.ServerNames = slices.Clone(c.Hosts)
		}
		chains = append(chains, fc)
		if c.RedirectCleartextFrom != 0 && uint32(c.RedirectCleartextFrom) == opts.ListenerPort {
			res.redirect = append(res.redirect, c.Hosts...)
		}
	}
	if len(chains) > 0 {
		res.https = &HTTPSListener{Port: opts.HTTPSPort, Chains: chains, StrictTransportSecurity: module.StrictTransportSecurity}
	} else if module.StrictTransportSecurity != "" {
		r.diags = append(r.diags, mapping.Diagnostic{Severity: mapping.SeverityInfo, Reason: mapping.ReasonIgnored,
			DocKind: mapping.KindModule, Field: "strict_transport_security", Message: "no TLSContext serves HTTPS: no HSTS header is sent"})
	}
	slices.SortFunc(res.secrets, func(a, b *TLSSecret) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(res.redirect)
	res.redirect = slices.Compact(res.redirect)
	res.diags = r.diags
	return res
}

// ChainName names the filter chain a TLSContext serves: namespace/name. The legacy tls Module's
// chain is Module/namespace/tls, so that it never shares a name with a TLSContext called tls.
func ChainName(kind, namespace, name string) string {
	if kind == mapping.KindModule {
		return kind + "/" + Key(namespace, name)
	}
	return Key(namespace, name)
}

// ownHosts claims hosts for d; a host already claimed by an older TLSContext is an error, and d
// gets no filter chain at all (serving it half would be a surprise).
func (r *resolver) ownHosts(d mapping.Document, hosts []string, owner map[string]*mapping.Document) bool {
	for _, h := range hosts {
		if o := owner[h]; o != nil {
			r.report(d, mapping.SeverityError, mapping.ReasonConflict, "hosts",
				"host %q is already served by the older %s %s/%s (%s); this %s is not served", h, o.Kind, o.Namespace, o.Name, o.Source.Object(), d.Kind)
			return false
		}
	}
	for _, h := range hosts {
		owner[h] = &d
	}
	return true
}

func paramsOf(c *mapping.TLSContext) TLSParams {
	return TLSParams{ALPNProtocols: c.ALPNProtocols, MinVersion: c.MinTLSVersion, MaxVersion: c.MaxTLSVersion,
		CipherSuites: c.CipherSuites, ECDHCurves: c.ECDHCurves}
}

// certSecret checks a TLSContext's certificate Secret: it exists, has type kubernetes.io/tls,
// and holds a certificate chain and a matching private key. Messages never quote the content.
func (r *resolver) certSecret(d mapping.Document, s *Secret, name string, hosts []string, now time.Time) (*TLSSecret, bool) {
	bad := func(format string, args ...any) (*TLSSecret, bool) {
		consequence := "hosts " + strings.Join(hosts, ", ") + " are not served over HTTPS"
		if len(hosts) == 0 {
			consequence = "connections to the upstreams of Mappings naming this TLSContext fail until it is fixed"
		}
		r.report(d, mapping.SeverityError, mapping.ReasonInvalid, "secret",
			"Secret %s/%s %s; %s", d.Namespace, name, fmt.Sprintf(format, args...), consequence)
		return nil, false
	}
	switch {
	case s == nil:
		return bad("not found (kfgate reads Secrets of type %s in the TLSContext's namespace)", SecretTypeTLS)
	case s.Type != SecretTypeTLS:
		return bad("has type %q, not %s", s.Type, SecretTypeTLS)
	case len(s.Data[SecretCert]) == 0:
		return bad("has no %s", SecretCert)
	case len(s.Data[SecretKey]) == 0:
		return bad("has no %s", SecretKey)
	}
	pair, err := tls.X509KeyPair(s.Data[SecretCert], s.Data[SecretKey])
	if err != nil {
		return bad("is not a valid certificate and key: %s", pemProblem(err))
	}
	info := describeChain(pair.Certificate)
	leaf, _ := x509.ParseCertificate(pair.Certificate[0]) // parsed above by X509KeyPair
	if problem := envoyKeyProblem(leaf); problem != "" {
		return bad("holds a certificate Envoy refuses: %s", problem)
	}
	if leaf != nil && now.After(leaf.NotAfter) {
		r.report(d, mapping.SeverityWarning, mapping.ReasonInvalid, "secret",
			"the certificate in Secret %s/%s expired at %s; clients will refuse it", d.Namespace, name, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	for _, h := range hosts {
		if leaf != nil && h != WildcardHost && leaf.VerifyHostname(strings.Replace(h, "*", "wildcard-check", 1)) != nil {
			r.report(d, mapping.SeverityWarning, mapping.ReasonInvalid, "hosts",
				"the certificate in Secret %s/%s does not cover %q (it names %s); clients will refuse it", d.Namespace, name, h, strings.Join(info.DNSNames, ", "))
		}
	}
	return &TLSSecret{Name: certSecretName(d.Namespace, name), Info: info, Cert: s.Data[SecretCert], Key: s.Data[SecretKey]}, true
}

// envoyKeyProblem says why Envoy's TLS context would refuse a certificate's key, "" if it would
// not: only RSA keys of 2048 bits or more, and ECDSA keys on P-256, P-384 or P-521.
func envoyKeyProblem(leaf *x509.Certificate) string {
	if leaf == nil {
		return "the certificate does not parse"
	}
	switch k := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Sprintf("an RSA key of %d bits (2048 or more are needed)", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if n := k.Curve.Params().Name; n != "P-256" && n != "P-384" && n != "P-521" {
			return "an ECDSA key on " + n + " (P-256, P-384 or P-521 are needed)"
		}
	default:
		return fmt.Sprintf("a %s key (RSA or ECDSA are needed)", leaf.PublicKeyAlgorithm)
	}
	return ""
}

// caSecret checks a CA Secret: type kubernetes.io/tls with ca.crt (cert-manager's layout), or
// else tls.crt, holding at least one certificate.
func (r *resolver) caSecret(d mapping.Document, s *Secret, name string) (*TLSSecret, bool) {
	bad := func(format string, args ...any) (*TLSSecret, bool) {
		r.report(d, mapping.SeverityError, mapping.ReasonInvalid, "ca_secret",
			"Secret %s/%s %s; upstreams using this TLSContext cannot be verified, so Envoy does not connect to them", d.Namespace, name, fmt.Sprintf(format, args...))
		return nil, false
	}
	if s == nil {
		return bad("not found (kfgate reads Secrets of type %s in the TLSContext's namespace)", SecretTypeTLS)
	}
	if s.Type != SecretTypeTLS {
		return bad("has type %q, not %s", s.Type, SecretTypeTLS)
	}
	bundle := s.Data[SecretCA]
	if len(bundle) == 0 {
		bundle = s.Data[SecretCert]
	}
	ders, err := pemCertificates(bundle)
	if err != nil {
		return bad("has no CA certificate in %s or %s: %v", SecretCA, SecretCert, err)
	}
	return &TLSSecret{Name: caSecretName(d.Namespace, name), Info: describeChain(ders), CA: bundle}, true
}

// pemCertificates decodes every CERTIFICATE block; anything else in the data is an error.
func pemCertificates(data []byte) ([][]byte, error) {
	var out [][]byte
	rest := bytes.TrimSpace(data)
	for len(rest) > 0 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, fmt.Errorf("not PEM")
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a %q block where certificates were expected", b.Type)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return nil, fmt.Errorf("certificate %d does not parse", len(out)+1)
		}
		out = append(out, b.Bytes)
		rest = bytes.TrimSpace(rest)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty")
	}
	return out, nil
}

// pemProblem states what crypto/tls found wrong, in words that cannot carry key material.
func pemProblem(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "private key does not match public key"):
		return "the private key does not match the certificate"
	case strings.Contains(msg, "failed to find any PEM data in certificate"), strings.Contains(msg, "failed to find certificate PEM data"):
		return "no PEM certificate in " + SecretCert
	case strings.Contains(msg, "failed to find any PEM data in key"), strings.Contains(msg, "failed to find PEM block with type ending in \"PRIVATE KEY\""):
		return "no PEM private key in " + SecretKey
	case strings.Contains(msg, "failed to parse private key"):
		return "the private key in " + SecretKey + " does not parse"
	case strings.Contains(msg, "x509"):
		return "the certificate in " + SecretCert + " does not parse"
	}
	return "the certificate or key does not parse"
}

func describeChain(ders [][]byte) CertInfo {
	info := CertInfo{Certs: len(ders)}
	if len(ders) == 0 {
		return info
	}
	sum := sha256.Sum256(ders[0])
	info.SHA256 = hex.EncodeToString(sum[:])
	if c, err := x509.ParseCertificate(ders[0]); err == nil {
		info.Subject, info.DNSNames, info.NotAfter = c.Subject.String(), c.DNSNames, c.NotAfter.UTC()
	}
	return info
}
