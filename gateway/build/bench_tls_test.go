package build

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/test/pki"
)

// tlsWorld is world(n) plus a TLSContext for every host, with a cleartext redirect and HSTS: two
// route tables (cleartext with the redirect route, HTTPS with HSTS) over the same routes.
func tlsWorld(n int) source.Objects {
	objs := world(n)
	edge := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "edge", Namespace: "kfgate", Annotations: map[string]string{
		mapping.AnnotationAmbassador: `---
apiVersion: getambassador.io/v2
kind: TLSContext
name: site
hosts: ["*"]
secret: site
redirect_cleartext_from: 8080
---
apiVersion: getambassador.io/v2
kind: Module
name: ambassador
config:
  strict_transport_security: max-age=31536000
`}}}
	objs.Services = append(objs.Services, edge)
	objs.Texts = append(objs.Texts, source.ServiceTexts(edge, "", nil)...)
	objs.Secrets = []*corev1.Secret{siteSecret("example")}
	return objs
}

func siteSecret(cert string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: "kfgate"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": pki.File(cert + ".crt"), "tls.key": pki.File(cert + ".key")}}
}

// BenchmarkOneServiceChangeTLS is BenchmarkOneServiceChange with HTTPS, redirects and HSTS: compare
// the two for what the second route table costs on the hot path.
func BenchmarkOneServiceChangeTLS(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			objs := tlsWorld(n)
			e := NewEngine(Options{})
			if _, err := e.Build(objs); err != nil {
				b.Fatal(err)
			}
			changeOneService(b, e, objs, n, func(res *Result) error {
				if len(res.Resources.Routes) != 2 {
					return fmt.Errorf("%d route tables, want 2", len(res.Resources.Routes))
				}
				return nil
			})
		})
	}
}

// BenchmarkSecretRotation: at n Services, the certificate Secret is renewed. Only TLS is resolved
// again (no route), and only the SDS secret changes.
func BenchmarkSecretRotation(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			e := NewEngine(Options{})
			if _, err := e.Build(tlsWorld(n)); err != nil {
				b.Fatal(err)
			}
			certs := []*corev1.Secret{siteSecret("example-renewed"), siteSecret("example")}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				e.SetSecret(certs[i%2])
				res, err := e.Result()
				if err != nil || len(res.Resources.Secrets) != 1 {
					b.Fatalf("%v, %d secrets", err, len(res.Resources.Secrets))
				}
			}
		})
	}
}
