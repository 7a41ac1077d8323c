package kube_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/go-logr/logr/funcr"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source/kube"
	"github.com/kfgate/kfgate/test/pki"
	"github.com/kfgate/kfgate/test/xdsclient"
)

const httpsListener = "https-8443"

// TestTLSCertificateRotation: a TLSContext's kubernetes.io/tls Secret is served over SDS; renewed,
// only the SDS Secret changes (a new version with the renewed certificate) and the Listener is
// neither changed nor sent again, so Envoy swaps the certificate without draining; deleted, the
// HTTPS filter chain goes and the TLSContext says the Secret is missing; an Opaque Secret of the
// same name is never even seen (the watch is narrowed to kubernetes.io/tls). The private keys
// appear in no log line of the replica.
func TestTLSCertificateRotation(t *testing.T) {
	c := needCluster(t)
	ns := c.namespace(t)
	var logs lockedBuffer
	log := funcr.New(func(prefix, args string) { logs.write(prefix + " " + args + "\n") }, funcr.Options{Verbosity: 9})
	p := startPlaneLogged(t, c.cfg, "default", "127.0.0.1:0", log, func(o *kube.Options) { o.Namespaces = []string{ns} })
	envoy := p.envoy(t, "envoy")
	delta := xdsclient.NewDelta(t, p.conn, "envoy-delta")

	cert := tlsSecret(ns, "cert", corev1.SecretTypeTLS, "example")
	c.create(t, cert)
	svc := service(ns, "edge", tlsContextDoc("edge", "a.example.com", "cert")+mappingDoc("app", "/app/", "edge"))
	c.create(t, svc)
	t.Cleanup(func() { c.delete(t, svc) }) // its hosts leave the replicas that watch every namespace
	sds := "kfgate/tls/" + ns + "/cert"
	before := envoy.Wait(t, "listener "+httpsListener+" and the Secret over SDS", func(v xdsclient.View) bool {
		return listenerUses(t, v, sds) && certIs(v, sds, "example.crt")
	})
	waitDelta(t, delta, "the delta client holding the listener and the Secret", func() bool {
		_, ok := delta.Versions(resourcev3.ListenerType)[httpsListener]
		return ok && deltaCertIs(t, delta, sds, "example.crt")
	})
	deltaListener, deltaSecret := delta.Versions(resourcev3.ListenerType)[httpsListener], delta.Versions(resourcev3.SecretType)[sds]

	// Renewal: the same hosts, a new key.
	cert.Data = tlsData("example-renewed")
	c.update(t, cert)
	after := envoy.Wait(t, "the renewed certificate over SDS", func(v xdsclient.View) bool { return certIs(v, sds, "example-renewed.crt") })
	if after.Version(resourcev3.SecretType) == before.Version(resourcev3.SecretType) {
		t.Errorf("the renewed Secret has the old version %q", after.Version(resourcev3.SecretType))
	}
	if got := after.Secrets()[sds].GetTlsCertificate().GetPrivateKey().GetInlineBytes(); !bytes.Equal(got, pki.File("example-renewed.key")) {
		t.Error("the renewed Secret does not hold the renewed key")
	}
	if after.Version(resourcev3.ListenerType) != before.Version(resourcev3.ListenerType) ||
		!proto.Equal(after.Listeners()[httpsListener], before.Listeners()[httpsListener]) {
		t.Errorf("a renewed certificate changed the listeners (version %s → %s): Envoy would drain them",
			before.Version(resourcev3.ListenerType), after.Version(resourcev3.ListenerType))
	}
	if after.Responses[resourcev3.ListenerType] != before.Responses[resourcev3.ListenerType] {
		t.Error("a renewed certificate made the server send the listeners again")
	}
	waitDelta(t, delta, "the renewed certificate over delta SDS", func() bool { return deltaCertIs(t, delta, sds, "example-renewed.crt") })
	if v := delta.Versions(resourcev3.SecretType)[sds]; v == deltaSecret {
		t.Errorf("over delta, the renewed Secret has the old version %q", v)
	}
	if v := delta.Versions(resourcev3.ListenerType)[httpsListener]; v != deltaListener {
		t.Errorf("over delta, a renewed certificate changed listener %s's version: %q → %q", httpsListener, deltaListener, v)
	}

	// Deleted: its TLSContext has no certificate, so no filter chain (and, the only one, no listener).
	c.delete(t, cert)
	gone := envoy.Wait(t, "the HTTPS filter chain gone", func(v xdsclient.View) bool { return !listenerUses(t, v, sds) })
	if gone.Version(resourcev3.ListenerType) == after.Version(resourcev3.ListenerType) {
		t.Error("the listeners lost a filter chain but kept their version")
	}
	if r := gone.Routes(); r["* /app/"] != ns+"/edge/80" {
		t.Errorf("the cleartext route went with the certificate: %v", r)
	}
	poll(t, "the TLSContext saying its Secret is missing", func() bool { return tlsDiagnostic(p, ns, "edge", "not found") })
	waitDelta(t, delta, "the delta client without the HTTPS listener", func() bool {
		_, ok := delta.Versions(resourcev3.ListenerType)[httpsListener]
		return !ok
	})

	// An Opaque Secret of that name is not even sent to the replica. The kubernetes.io/tls Secret
	// created after it comes on the same watch, so once that one is counted the Opaque one would
	// have been too.
	added := func() float64 {
		return p.counter(t, "kfgate_kube_watch_events_total", map[string]string{"kind": "secret", "event": "add"})
	}
	seen := added()
	c.create(t, tlsSecret(ns, "cert", corev1.SecretTypeOpaque, "example"))
	c.create(t, tlsSecret(ns, "unrelated", corev1.SecretTypeTLS, "example"))
	poll(t, "the kubernetes.io/tls Secret created after the Opaque one seen", func() bool { return added() > seen })
	if n := added() - seen; n != 1 {
		t.Errorf("%v Secrets added, want 1: the Opaque Secret was seen", n)
	}
	// A rebuild after both: had the Opaque Secret been applied, the TLSContext would now say so.
	svc.Annotations[mapping.AnnotationAmbassador] += mappingDoc("later", "/later/", "edge")
	c.update(t, svc)
	last := envoy.Wait(t, "a change after the Opaque Secret", routeIs("* /later/", ns+"/edge/80"))
	if listenerUses(t, last, sds) || len(last.Secrets()) != 0 {
		t.Errorf("an Opaque Secret is served: listeners %v, secrets %v", slices.Sorted(maps.Keys(last.Listeners())), slices.Sorted(maps.Keys(last.Secrets())))
	}
	if !tlsDiagnostic(p, ns, "edge", "not found") || tlsDiagnostic(p, ns, "edge", "Opaque") {
		t.Errorf("the TLSContext's diagnostics %q; want the Secret not found (an Opaque one is not watched)", diagnosticsOf(p, ns, "edge"))
	}

	out := logs.String()
	if !strings.Contains(out, "published xDS snapshot") {
		t.Fatal("the replica's logs were not captured: the check below would prove nothing")
	}
	for _, key := range []string{"example.key", "example-renewed.key"} {
		for _, form := range keyForms(pki.File(key)) {
			if strings.Contains(out, form) {
				t.Errorf("the private key %s appears in the replica's logs", key)
			}
		}
	}
}

func tlsContextDoc(name, host, secret string) string {
	return fmt.Sprintf("---\napiVersion: getambassador.io/v2\nkind: TLSContext\nname: %s\nhosts: [%s]\nsecret: %s\n", name, host, secret)
}

// tlsSecret is a Secret holding test/pki's <pair>.crt and <pair>.key.
func tlsSecret(ns, name string, typ corev1.SecretType, pair string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: typ, Data: tlsData(pair)}
}

func tlsData(pair string) map[string][]byte {
	return map[string][]byte{corev1.TLSCertKey: pki.File(pair + ".crt"), corev1.TLSPrivateKeyKey: pki.File(pair + ".key")}
}

// listenerUses reports whether a listener's filter chain takes its certificate from SDS Secret sds.
func listenerUses(t testing.TB, v xdsclient.View, sds string) bool {
	return slices.Contains(xdsclient.SDSNames(t, v.Responses[resourcev3.ListenerType].GetResources()), sds)
}

// certIs reports whether the client holds SDS Secret sds with test/pki's certificate file.
func certIs(v xdsclient.View, sds, file string) bool {
	got := v.Secrets()[sds].GetTlsCertificate().GetCertificateChain().GetInlineBytes()
	return bytes.Equal(got, pki.File(file))
}

// deltaCertIs is certIs for a delta client.
func deltaCertIs(t testing.TB, d *xdsclient.Delta, sds, file string) bool {
	a, ok := d.Snapshot(resourcev3.SecretType)[sds]
	if !ok {
		return false
	}
	var s tlsv3.Secret
	if err := a.UnmarshalTo(&s); err != nil {
		t.Fatalf("decoding Secret %s: %v", sds, err)
	}
	return bytes.Equal(s.GetTlsCertificate().GetCertificateChain().GetInlineBytes(), pki.File(file))
}

// waitDelta reads a delta client's responses until cond holds, failing the test when none comes
// for xdsclient.WaitTimeout.
func waitDelta(t testing.TB, d *xdsclient.Delta, what string, cond func() bool) {
	t.Helper()
	if cond() {
		return
	}
	t.Logf("waiting for %s", what) // shown if the wait fails
	for !cond() {
		d.Next()
	}
}

// diagnosticsOf lists the messages of the current diagnostics about a Service.
func diagnosticsOf(p *plane, ns, name string) []string {
	var out []string
	for _, o := range p.diag.State().Report.Objects {
		for _, d := range o.Diagnostics {
			if d.Source.Kind == "Service" && d.Source.Namespace == ns && d.Source.Name == name {
				out = append(out, d.Message)
			}
		}
	}
	return out
}

// tlsDiagnostic reports whether a current diagnostic about the Service's TLSContext secret says want.
func tlsDiagnostic(p *plane, ns, name, want string) bool {
	for _, o := range p.diag.State().Report.Objects {
		for _, d := range o.Diagnostics {
			if d.Source.Namespace == ns && d.Source.Name == name && d.DocKind == mapping.KindTLSContext && d.Field == "secret" &&
				strings.Contains(d.Message, want) {
				return true
			}
		}
	}
	return false
}

// keyForms are ways a private key could be printed: a line of its PEM body, and stretches of its
// bytes as a JSON logger (base64), %v (decimals, as a logged Secret's String method prints them)
// and %x would print them.
func keyForms(pem []byte) []string {
	lines := strings.Split(strings.TrimSpace(string(pem)), "\n")
	b64 := base64.StdEncoding.EncodeToString(pem)
	mid := pem[len(pem)/2 : len(pem)/2+24]
	decimals := make([]string, len(mid))
	for i, b := range mid {
		decimals[i] = strconv.Itoa(int(b))
	}
	return []string{lines[len(lines)/2], b64[len(b64)/2 : len(b64)/2+40], strings.Join(decimals, " "), hex.EncodeToString(mid)}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) write(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
