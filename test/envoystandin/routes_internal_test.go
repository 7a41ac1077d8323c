package envoystandin

import (
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kfgate/kfgate/test/routeeval"
)

func retryTable(vhostRetryOn string) *routev3.RouteConfiguration {
	return &routev3.RouteConfiguration{Name: "r", VirtualHosts: []*routev3.VirtualHost{{
		Name: "vh", Domains: []string{"*"},
		RetryPolicy: &routev3.RetryPolicy{RetryOn: vhostRetryOn, NumRetries: wrapperspb.UInt32(2)},
		Routes: []*routev3.Route{{
			Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "c"}}},
		}},
	}}}
}

// A virtual host's retry policy is compiled with the table: an invalid one is refused, a valid one
// is what a route without its own policy retries with.
func TestVirtualHostRetryPolicy(t *testing.T) {
	_, err := compileRoutes(retryTable("5xx,bogus"))
	if err == nil || !strings.Contains(err.Error(), `virtual_hosts[0].retry_policy.retry_on: "bogus" is not implemented`) {
		t.Fatalf("compileRoutes with retry_on 5xx,bogus: %v", err)
	}
	rt, err := compileRoutes(retryTable("5xx"))
	if err != nil {
		t.Fatal(err)
	}
	d := rt.router.Route(routeeval.Request{Authority: "h", Method: "GET", Path: "/x"})
	if p := rt.retryPolicy(d.RetryPolicy); p == nil || p.num() != 2 || !p.has("5xx") {
		t.Fatalf("retry policy %+v; want the virtual host's (5xx, 2 retries)", p)
	}
}
