package envoystandin_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/kfgate/kfgate/test/envoystandin"
	"github.com/kfgate/kfgate/test/pki"
)

func tlsSecret(name, cert, key string) string {
	return fmt.Sprintf(`---
apiVersion: v1
kind: Secret
metadata:
  name: %s
  namespace: default
type: kubernetes.io/tls
stringData:
  tls.crt: |
%s
  tls.key: |
%s
`, name, indent(string(pki.File(cert)), "    "), indent(string(pki.File(key)), "    "))
}

const tlsContexts = `---
apiVersion: getambassador.io/v2
kind: TLSContext
name: a
hosts: [a.example.com]
secret: example-cert
---
apiVersion: getambassador.io/v2
kind: TLSContext
name: u
hosts: [api.internal.example.com]
secret: upstream-cert
---
apiVersion: getambassador.io/v2
kind: Mapping
name: app
prefix: /app/
service: echo
`

// TestTLSListener: the HTTPS listener picks its filter chain by SNI, serves the chain's SDS
// certificate with ALPN (HTTP/2 here), refuses an unknown name, and a renewed certificate is served
// to new handshakes without any listener change.
func TestTLSListener(t *testing.T) {
	_, port := startEcho(t)
	cp := startControlPlane(t)
	objects := func(exampleCert, exampleKey string) string {
		return echoService(port, tlsContexts) + tlsSecret("example-cert", exampleCert, exampleKey) +
			tlsSecret("upstream-cert", "upstream.crt", "upstream.key")
	}
	cp.apply(objects("example.crt", "example.key"))
	e := startEnvoy(t, cp, envoystandin.Options{Ports: map[uint32]string{8080: "127.0.0.1:0", 8443: "127.0.0.1:0"}})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	st, err := e.Wait(ctx, func(s envoystandin.State) bool { return s.HasListeners("http-8080", "https-8443") })
	if err != nil {
		t.Fatalf("waiting for the HTTPS listener: %v (%+v)", err, st)
	}
	addr := e.Addr(8443)

	resp, cert := getTLS(t, addr, "a.example.com", "/app/x")
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || !samePEM(cert, "example.crt") {
		t.Fatalf("a.example.com: %d over %s, certificate %v; want 200 over HTTP/2 with example.crt", resp.StatusCode, resp.Proto, cert.DNSNames)
	}
	if up := decodeEcho(t, resp); up.Headers["x-forwarded-proto"] != "https" || up.Host != "a.example.com" {
		t.Errorf("upstream saw x-forwarded-proto %q host %q; want https, a.example.com", up.Headers["x-forwarded-proto"], up.Host)
	}
	if _, cert := getTLS(t, addr, "api.internal.example.com", "/app/x"); !samePEM(cert, "upstream.crt") {
		t.Errorf("api.internal.example.com got certificate %v, want upstream.crt", cert.DNSNames)
	}
	if _, err := handshake(addr, "nowhere.example.org"); err == nil {
		t.Errorf("a name no filter chain has completed a handshake")
	}

	lds, sds := st.Versions[resourcev3.ListenerType], st.Versions[resourcev3.SecretType]
	cp.apply(objects("example-renewed.crt", "example-renewed.key"))
	st, err = e.Wait(ctx, func(s envoystandin.State) bool { return s.Versions[resourcev3.SecretType] != sds })
	if err != nil {
		t.Fatal(err)
	}
	if st.Versions[resourcev3.ListenerType] != lds {
		t.Errorf("a renewed certificate changed the listeners (%s → %s)", lds, st.Versions[resourcev3.ListenerType])
	}
	if _, cert := getTLS(t, addr, "a.example.com", "/app/x"); !samePEM(cert, "example-renewed.crt") {
		t.Errorf("after the renewal a new handshake got %v, want example-renewed.crt", cert.NotBefore)
	}
}

func handshake(addr, sni string) (*tls.Conn, error) {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pki.File("ca.crt"))
	return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: sni, RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}})
}

// getTLS sends a request with SNI sni and returns the response and the certificate served.
func getTLS(t *testing.T, addr, sni, path string) (*http.Response, *x509.Certificate) {
	t.Helper()
	var cert *x509.Certificate
	tr := &http.Transport{ForceAttemptHTTP2: true, DialTLSContext: func(context.Context, string, string) (net.Conn, error) {
		c, err := handshake(addr, sni)
		if err == nil {
			cert = c.ConnectionState().PeerCertificates[0]
		}
		return c, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + sni + path)
	if err != nil {
		t.Fatalf("GET https://%s%s: %v", sni, path, err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp, cert
}

func samePEM(c *x509.Certificate, file string) bool {
	b, _ := pem.Decode(pki.File(file))
	return c != nil && b != nil && bytes.Equal(c.Raw, b.Bytes)
}
