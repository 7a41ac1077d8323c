package ir

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/test/pki"
)

// TestEnvoyRefusedKeys: a certificate and key that crypto/tls accepts but Envoy's TLS context does
// not (RSA under 2048 bits, ECDSA off P-256/384/521, Ed25519) is an error, not a NACKed secret.
func TestEnvoyRefusedKeys(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // G403: a weak key is the point of the test
	if err != nil {
		t.Fatal(err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name string
		key  any
		want string
	}{
		{"rsa 1024", rsa1024, "an RSA key of 1024 bits"},
		{"ecdsa P-224", p224, "an ECDSA key on P-224"},
		{"ed25519", ed, "a Ed25519 key"},
		{"ecdsa P-256", p256, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert, key := selfSigned(t, tc.key)
			res := resolveTLS([]*mapping.Document{{Kind: mapping.KindTLSContext, Name: "c", Namespace: "ns",
				TLSContext: &mapping.TLSContext{Hosts: []string{"a.example.com"}, Secret: "s"}}},
				map[string]*Secret{"ns/s": {Namespace: "ns", Name: "s", Type: SecretTypeTLS, Data: map[string][]byte{SecretCert: cert, SecretKey: key}}},
				nil, Options{ListenerPort: 8080, HTTPSPort: 8443}, &mapping.Module{}, time.Now())
			var errs []string
			for _, d := range res.diags {
				if d.Severity == mapping.SeverityError {
					errs = append(errs, d.Message)
				}
			}
			switch {
			case tc.want == "" && (len(errs) > 0 || res.https == nil):
				t.Errorf("a key Envoy accepts was refused: %v", errs)
			case tc.want != "" && (res.https != nil || len(errs) != 1 || !strings.Contains(errs[0], tc.want)):
				t.Errorf("served %v, errors %q; want no chain and %q", res.https != nil, errs, tc.want)
			}
		})
	}
}

// TestBrokenRenewalKeepsLastCertificate: an invalid update of a Secret that served keeps the last
// valid certificate (with the error and a StaleConfig warning); deleting it drops the chain.
func TestBrokenRenewalKeepsLastCertificate(t *testing.T) {
	docs := []*mapping.Document{{Kind: mapping.KindTLSContext, Name: "c", Namespace: "ns",
		TLSContext: &mapping.TLSContext{Hosts: []string{"a.example.com"}, Secret: "s"}}}
	opts := Options{ListenerPort: 8080, HTTPSPort: 8443}
	secret := func(cert, key string) map[string]*Secret {
		return map[string]*Secret{"ns/s": {Namespace: "ns", Name: "s", Type: SecretTypeTLS,
			Data: map[string][]byte{SecretCert: pki.File(cert), SecretKey: pki.File(key)}}}
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	good := resolveTLS(docs, secret("example.crt", "example.key"), nil, opts, &mapping.Module{}, now)
	if good.https == nil || len(good.secrets) != 1 {
		t.Fatalf("the valid Secret is not served: %v", good.diags)
	}
	broken := resolveTLS(docs, secret("example-renewed.crt", "example.key"), good.good, opts, &mapping.Module{}, now)
	if broken.https == nil || len(broken.secrets) != 1 || string(broken.secrets[0].Cert) != string(pki.File("example.crt")) {
		t.Fatalf("a broken renewal dropped the last valid certificate: %v", broken.diags)
	}
	var reasons []string
	for _, d := range broken.diags {
		reasons = append(reasons, d.Reason)
	}
	if strings.Join(reasons, ",") != mapping.ReasonInvalid+","+mapping.ReasonStale {
		t.Errorf("diagnostics %v; want the error and the StaleConfig warning", broken.diags)
	}
	gone := resolveTLS(docs, map[string]*Secret{}, broken.good, opts, &mapping.Module{}, now)
	if gone.https != nil || len(gone.secrets) != 0 {
		t.Errorf("a deleted Secret still serves")
	}
}

func selfSigned(t *testing.T, key any) (certPEM, keyPEM []byte) {
	t.Helper()
	pub := key.(crypto.Signer).Public()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "a.example.com"}, DNSNames: []string{"a.example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}
