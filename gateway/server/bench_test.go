package server

import (
	"context"
	"fmt"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"
)

// BenchmarkPublishLargeRoutes measures validating, hashing and installing a
// 20k-route RouteConfiguration (each iteration publishes new content).
func BenchmarkPublishLargeRoutes(b *testing.B) {
	srv := New(Options{})
	base := build(b, defaultSpec())
	large := largeRoutes(10000, 2)
	for i := 0; b.Loop(); i++ {
		rc := proto.Clone(large).(*routev3.RouteConfiguration) // published messages are immutable
		rc.VirtualHosts[0].Routes[0].GetRoute().PrefixRewrite = fmt.Sprintf("/api/%d/", i)
		r := base
		r.Routes = []types.Resource{rc}
		if _, err := srv.Publish(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
}
