package build

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kfgate/kfgate/gateway/ir"
	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/gateway/xds"
)

// world returns n Services, each annotated with two Mappings (GET and POST, as Kubeflow's model
// servers were), like a cluster with n model servers.
func world(n int) source.Objects {
	var objs source.Objects
	for i := range n {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("model-%d", i), Namespace: fmt.Sprintf("team-%d", i%50),
			UID: types.UID(fmt.Sprint("uid-", i)), Annotations: map[string]string{mapping.AnnotationAmbassador: annotation(i, "")}},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8500}}}}
		objs.Services = append(objs.Services, svc)
		objs.Texts = append(objs.Texts, source.ServiceTexts(svc, "", nil)...)
	}
	return objs
}

func annotation(i int, extra string) string {
	return fmt.Sprintf(`---
apiVersion: ambassador/v0
kind: Mapping
name: predict-%[1]d
prefix: /models/model-%[1]d/
rewrite: /v1/models/model-%[1]d:predict
method: POST
service: model-%[1]d:8500
%[2]s---
apiVersion: ambassador/v0
kind: Mapping
name: status-%[1]d
prefix: /models/model-%[1]d/
rewrite: /v1/models/model-%[1]d
method: GET
service: model-%[1]d:8500
timeout_ms: 10000
`, i, extra)
}

// BenchmarkFullTranslation: a cold build (decode, resolve, translate, validate) of n Services with two
// Mappings each. Reports µs per Mapping and the RouteConfiguration size.
func BenchmarkFullTranslation(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			objs := world(n)
			var size int
			b.ReportAllocs()
			for b.Loop() {
				res, err := NewBuilder(Options{}).Build(objs)
				if err != nil {
					b.Fatal(err)
				}
				size = proto.Size(res.Resources.Routes[0])
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(2*n), "µs/mapping")
			b.ReportMetric(float64(size), "routeconfig-bytes")
		})
	}
}

// BenchmarkTranslation: from decoded documents to Envoy resources (resolution and translation,
// with validation and hashing), the work after the YAML is read. Reports µs per Mapping.
func BenchmarkTranslation(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			objs := world(n)
			var docs []mapping.Document
			for _, t := range objs.Texts {
				d, _ := mapping.Decode(t.Source, t.Body, mapping.Options{})
				docs = append(docs, d...)
			}
			services := source.Services(objs.Services, objs.EndpointSlices)
			b.ReportAllocs()
			for b.Loop() {
				cfg, _ := ir.Resolve(ir.Input{Documents: docs, Services: services})
				if _, err := new(xds.Translator).Translate(cfg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(2*n), "µs/mapping")
		})
	}
}

// BenchmarkOneServiceChange: at n Services, one Service's annotation changes; a warm Engine told of
// the change decodes, resolves, translates and validates only that Service's Mappings, and
// assembles the new RouteConfiguration from the routes it already has.
func BenchmarkOneServiceChange(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			objs := world(n)
			e := NewEngine(Options{})
			if _, err := e.Build(objs); err != nil {
				b.Fatal(err)
			}
			changeOneService(b, e, objs, n, nil)
		})
	}
}

// changeOneService times one Service's annotation changing (its timeout, back and forth) on a warm
// Engine, checking each Result with check when it is not nil.
func changeOneService(b *testing.B, e *Engine, objs source.Objects, n int, check func(*Result) error) {
	t := objs.Texts[n/2]
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		t.Body = annotation(n/2, fmt.Sprintf("timeout_ms: %d\n", 1000+i%2))
		e.SetText(t)
		res, err := e.Result()
		if err == nil && check != nil {
			err = check(res)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOneServiceChangeTenants is BenchmarkOneServiceChange with every namespace a tenant's
// (--trusted-namespaces names another): the trust rules' cost on the hot path.
func BenchmarkOneServiceChangeTenants(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			objs := world(n)
			e := NewEngine(Options{TrustedNamespaces: []string{"kubeflow"}})
			res, err := e.Build(objs)
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Diagnostics) > 0 {
				b.Fatalf("the tenants' Mappings are refused: %s", res.Diagnostics[0])
			}
			changeOneService(b, e, objs, n, nil)
		})
	}
}

// BenchmarkOneServiceSync: the same change found by Sync, which compares a whole view with the
// Engine's (what the file source does); the comparison is O(n) but cheap.
func BenchmarkOneServiceSync(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			objs := world(n)
			e := NewEngine(Options{})
			if _, err := e.Build(objs); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				objs.Texts[n/2].Body = annotation(n/2, fmt.Sprintf("timeout_ms: %d\n", 1000+i%2))
				if _, err := e.Build(objs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
