package controlplane

import (
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/kfgate/kfgate/test/xdsclient"
)

// TestTenThousandServicesDelivered proves the message limits with kfgate's own output: the
// RouteConfiguration of 10,000 annotated Services (two Mappings each) reaches an ADS client whole.
func TestTenThousandServicesDelivered(t *testing.T) {
	const n = 10000
	r, srv, _ := newRunner(t)
	conn := serveXDS(t, srv)
	start := time.Now()
	if err := r.Apply(t.Context(), annotated(n, false)); err != nil {
		t.Fatal(err)
	}
	built := time.Since(start)
	start = time.Now()
	got := xdsclient.NewSotW(t, conn, "envoy").Await(map[string]string{resourcev3.RouteType: srv.TypeVersion(resourcev3.RouteType)})
	res := got[resourcev3.RouteType].GetResources()[0]
	var rc routev3.RouteConfiguration
	if err := proto.Unmarshal(res.GetValue(), &rc); err != nil {
		t.Fatal(err)
	}
	if routes := len(rc.GetVirtualHosts()[0].GetRoutes()); routes != 2*n {
		t.Fatalf("the client got %d routes, want %d", routes, 2*n)
	}
	t.Logf("10,000 Services: built and published in %v; RouteConfiguration of %d bytes delivered in %v",
		built.Round(time.Millisecond), len(res.GetValue()), time.Since(start).Round(time.Millisecond))
}
