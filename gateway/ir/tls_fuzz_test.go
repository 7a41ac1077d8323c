package ir

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/test/pki"
)

// FuzzSecretContent feeds arbitrary certificate, key and CA bytes to the TLS resolution: it never
// panics, a Secret is published only when it holds a matching certificate and key, and no
// diagnostic ever quotes the content.
func FuzzSecretContent(f *testing.F) {
	f.Add(pki.File("example.crt"), pki.File("example.key"), pki.File("ca.crt"))
	f.Add(pki.File("example.crt"), pki.File("other.key"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nsecretsecret\n-----END PRIVATE KEY-----\n"), []byte{}, []byte("garbage"))
	f.Fuzz(func(t *testing.T, cert, key, ca []byte) {
		doc := func(name string, c *mapping.TLSContext) *mapping.Document {
			return &mapping.Document{Kind: mapping.KindTLSContext, Name: name, Namespace: "ns", TLSContext: c}
		}
		docs := []*mapping.Document{
			doc("serve", &mapping.TLSContext{Hosts: []string{"a.example.com"}, Secret: "s"}),
			doc("origin", &mapping.TLSContext{CASecret: "s", Secret: "s"}),
		}
		secrets := map[string]*Secret{"ns/s": {Namespace: "ns", Name: "s", Type: SecretTypeTLS,
			Data: map[string][]byte{SecretCert: cert, SecretKey: key, SecretCA: ca}}}
		res := resolveTLS(docs, secrets, nil, Options{ListenerPort: 8080, HTTPSPort: 8443}, &mapping.Module{}, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		for _, d := range res.diags {
			for _, b := range [][]byte{cert, key, ca} {
				for _, line := range strings.Split(string(b), "\n") {
					if len(line) >= 12 && !strings.HasPrefix(line, "-----") && strings.Contains(d.Message, line) {
						t.Fatalf("diagnostic quotes the Secret: %s", d.Message)
					}
				}
			}
		}
		for _, s := range res.secrets {
			if s.CA != nil {
				if _, err := pemCertificates(s.CA); err != nil {
					t.Fatalf("published a CA bundle that holds no certificate: %s", s.Name)
				}
				continue
			}
			pair, err := tls.X509KeyPair(s.Cert, s.Key)
			if err != nil {
				t.Fatalf("published %s, whose certificate and key do not pair: %v", s.Name, err)
			}
			leaf, _ := x509.ParseCertificate(pair.Certificate[0])
			if p := envoyKeyProblem(leaf); p != "" {
				t.Fatalf("published %s, which Envoy refuses: %s", s.Name, p)
			}
		}
		if _, err := tls.X509KeyPair(cert, key); err != nil && res.https != nil {
			t.Fatalf("a filter chain for a certificate and key that do not pair")
		}
		if res.https != nil && len(res.https.Chains) != 1 {
			t.Fatalf("chains %+v", res.https.Chains)
		}
	})
}
