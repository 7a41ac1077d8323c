package controlplane

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfgate/kfgate/gateway/build"
	"github.com/kfgate/kfgate/gateway/source"
)

// BenchmarkPublishOneServiceChange: at n Services with two Mappings each, one Service's annotation
// changes; the Runner builds what it touches and publishes a new snapshot to the xDS server (no
// clients connected: what each client costs is go-control-plane's encoding of its response).
func BenchmarkPublishOneServiceChange(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			ctx := context.Background()
			r, objs := warmRunner(b, n, false)
			t := objs.Texts[n/2]
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				t.Body = mappings(n/2, 1000+i%2)
				if err := r.Update(ctx, func(e *build.Engine) { e.SetText(t) }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPublishPrefixChange: at n Services (with EndpointSlices), one Mapping's prefix changes, so
// its route moves to another canary group, which takes over the Service's cluster: the cluster list
// stands, only the route table is new.
func BenchmarkPublishPrefixChange(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			ctx := context.Background()
			r, objs := warmRunner(b, n, true)
			t := objs.Texts[n/2]
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				t.Body = strings.ReplaceAll(mappings(n/2, 3000), "prefix: /models/", fmt.Sprintf("prefix: /v%d/models/", i))
				if err := r.Update(ctx, func(e *build.Engine) { e.SetText(t) }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// warmRunner returns a Runner that has published annotated(n, slices), and those objects.
func warmRunner(b *testing.B, n int, slices bool) (*Runner, source.Objects) {
	b.Helper()
	r, _, _ := newRunner(b)
	objs := annotated(n, slices)
	if err := r.Apply(b.Context(), objs); err != nil {
		b.Fatal(err)
	}
	return r, objs
}

func mappings(i, timeout int) string {
	return fmt.Sprintf(`---
apiVersion: ambassador/v0
kind: Mapping
name: predict-%[1]d
prefix: /models/model-%[1]d/
rewrite: /v1/models/model-%[1]d:predict
method: POST
service: model-%[1]d
timeout_ms: %[2]d
---
apiVersion: ambassador/v0
kind: Mapping
name: status-%[1]d
prefix: /models/model-%[1]d/
rewrite: /v1/models/model-%[1]d
method: GET
service: model-%[1]d
`, i, timeout)
}

// BenchmarkPublishEndpointChange: at n Services, each with an EndpointSlice, one endpoint moves; the
// Runner rebuilds that Service's cluster and publishes (only CDS/EDS entries of that Service are new).
func BenchmarkPublishEndpointChange(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			ctx := context.Background()
			r, objs := warmRunner(b, n, true)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				sl := slice(objs.Services[n/2], i)
				if err := r.Update(ctx, func(e *build.Engine) { e.SetEndpointSlice(sl) }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func slice(svc *corev1.Service, i int) *discoveryv1.EndpointSlice {
	name, port, ready := "http", int32(8080), true
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: svc.Name + "-x", Namespace: svc.Namespace, Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{fmt.Sprintf("10.%d.%d.%d", i/65536%256, i/256%256, i%256)},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
	}
}
