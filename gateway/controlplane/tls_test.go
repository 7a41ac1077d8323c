package controlplane

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/test/pki"
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

	var logs lockedBuffer
	log := funcr.New(func(prefix, args string) { logs.write(prefix + args + "\n") }, funcr.Options{Verbosity: 9})
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
	var renewed versions
	for renewed = <-applied; renewed.secrets == first.secrets; renewed = <-applied {
		// the two files are written one after the other: wait for the build that has both
	}
	if renewed.listeners != first.listeners {
		t.Errorf("a renewed certificate changed the listeners (%s → %s): Envoy would drain them", first.listeners, renewed.listeners)
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
	if err := os.Remove(filepath.Join(dir, "site.key")); err != nil {
		t.Fatal(err)
	}
	for v := <-applied; v.listeners == renewed.listeners; v = <-applied {
		// a key removed: the HTTPS filter chain goes, the listeners change
	}
	if st := stateOf(t, diag); !hasDiag(st, "InvalidMapping") {
		t.Errorf("a Secret without its key must be reported")
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) write(s string) { l.mu.Lock(); defer l.mu.Unlock(); l.b.WriteString(s) }
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// keyBody is a line from the middle of a PEM key: enough to recognise it anywhere.
func keyBody(pem []byte) string {
	lines := strings.Split(strings.TrimSpace(string(pem)), "\n")
	return lines[len(lines)/2]
}
