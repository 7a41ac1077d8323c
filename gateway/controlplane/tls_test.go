package controlplane

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/test/pki"
	"github.com/kfgate/kfgate/test/testproc"
)

const tlsService = `apiVersion: v1
kind: Service
metadata:
  name: app
  namespace: default
  annotations:
    getambassador.io/config: |
      apiVersion: getambassador.io/v2
      kind: TLSContext
      name: tls
      hosts: [a.example.com]
      secret: site
      ---
      apiVersion: getambassador.io/v2
      kind: Mapping
      name: app
      prefix: /app/
      service: app
spec:
  ports:
  - port: 80
`

// TestFileSourceCertificateRotation is the standalone appliance with TLS: PEM files next to the
// documents are the Secret; renewing them (as a certificate tool would) publishes a new SDS Secret
// version and leaves the listeners alone, so Envoy swaps the certificate without a drain. The key
// appears nowhere but in the SDS resource: not in logs, not on the diagnostics page.
func TestFileSourceCertificateRotation(t *testing.T) {
	dir := t.TempDir()
	writeAtomically(t, filepath.Join(dir, "app.yaml"), tlsService)
	pem := func(name string) {
		t.Helper()
		writeAtomically(t, filepath.Join(dir, "site.crt"), string(pki.File(name+".crt")))
		writeAtomically(t, filepath.Join(dir, "site.key"), string(pki.File(name+".key")))
	}
	pem("example")

	var logs testproc.Buffer
	log := funcr.New(func(prefix, args string) { _, _ = logs.Write([]byte(prefix + args + "\n")) }, funcr.Options{Verbosity: 9})
	r, srv, diag := newRunner(t)
	r.log = log
	ctx := t.Context()
	type versions struct{ listeners, secrets string }
	applied := make(chan versions, 16)
	watched := make(chan error, 1)
	go func() {
		watched <- source.WatchDir(ctx, dir, source.DefaultDebounce, logr.Discard(), func(o source.Objects) {
			if err := r.Apply(ctx, o); err != nil {
				t.Errorf("apply: %v", err)
			}
			applied <- versions{srv.TypeVersion(resourcev3.ListenerType), srv.TypeVersion(resourcev3.SecretType)}
		})
	}()
	t.Cleanup(func() {
		if err := <-watched; err != nil {
			t.Error(err)
		}
	})

	first := <-applied
	if first.secrets == "" || first.listeners == "" {
		t.Fatalf("nothing published: %+v", first)
	}
	pem("example-renewed")
	// The two files are written one after the other: a build may see the new certificate with the
	// old key. That half-renewal keeps the last valid certificate serving; no build changes the
	// listeners.
	var renewed versions
	for renewed = <-applied; renewed.secrets == first.secrets; renewed = <-applied {
		if renewed.listeners != first.listeners {
			t.Fatalf("a half-written renewal changed the listeners (%s → %s)", first.listeners, renewed.listeners)
		}
	}
	if renewed.listeners != first.listeners {
		t.Errorf("a renewed certificate changed the listeners (%s → %s): Envoy would drain them", first.listeners, renewed.listeners)
	}
	// A key that does not match: the renewed certificate keeps serving, and the error is shown.
	writeAtomically(t, filepath.Join(dir, "site.key"), string(pki.File("other.key")))
	for v := <-applied; !hasDiag(stateOf(t, diag), "StaleConfig"); v = <-applied {
		if v.listeners != first.listeners || v.secrets != renewed.secrets {
			t.Fatalf("a broken renewal changed what Envoy is served: %+v → %+v", renewed, v)
		}
	}

	st := stateOf(t, diag)
	page, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"example.key", "example-renewed.key"} {
		body := keyBody(pki.File(key))
		if strings.Contains(string(page), body) || strings.Contains(logs.String(), body) {
			t.Errorf("the private key %s appears on the diagnostics page or in the logs", key)
		}
	}
	if !strings.Contains(string(page), "a.example.com") {
		t.Errorf("the diagnostics page does not show the TLSContext at all: %s", page)
	}
	for _, f := range []string{"site.key", "site.crt"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	for v := <-applied; v.listeners == renewed.listeners; v = <-applied {
		// the Secret deleted: the HTTPS filter chain goes, the listeners change
	}
	if st := stateOf(t, diag); !hasDiag(st, "InvalidMapping") {
		t.Errorf("a TLSContext without its Secret must be reported")
	}
}

// keyBody is a line from the middle of a PEM key: enough to recognise it anywhere.
func keyBody(pem []byte) string {
	lines := strings.Split(strings.TrimSpace(string(pem)), "\n")
	return lines[len(lines)/2]
}
