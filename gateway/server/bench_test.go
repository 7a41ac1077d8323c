package server

import (
	"context"
	"fmt"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
)

// BenchmarkPublishLargeRoutes measures validating, hashing and installing a
// 20k-route RouteConfiguration (each iteration publishes new content).
func BenchmarkPublishLargeRoutes(b *testing.B) {
	srv := New(Options{})
	base := build(b, defaultSpec())
	rc := largeRoutes(10000, 2)
	for i := 0; b.Loop(); i++ {
		rc.VirtualHosts[0].Routes[0].GetRoute().PrefixRewrite = fmt.Sprintf("/api/%d/", i)
		r := base
		r.Routes = []types.Resource{rc}
		if _, err := srv.Publish(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
}
