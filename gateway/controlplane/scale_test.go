package controlplane

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfgate/kfgate/gateway/build"
	"github.com/kfgate/kfgate/gateway/diagnostics"
	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/server"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/test/xdsclient"
)

// TestTenThousandServicesDelivered proves the message limits with kfgate's own output: the
// RouteConfiguration of 10,000 annotated Services (two Mappings each) reaches an ADS client whole.
func TestTenThousandServicesDelivered(t *testing.T) {
	const n = 10000
	reg := prometheus.NewRegistry()
	srv := server.New(server.Options{Registry: reg})
	r := New(build.Options{}, srv, diagnostics.New(reg, srv.Ready), reg, logr.Discard())
	var objs source.Objects
	for i := range n {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("model-", i), Namespace: fmt.Sprint("team-", i%50),
			Annotations: map[string]string{mapping.AnnotationAmbassador: mappings(i, 3000)}},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
		objs.Services = append(objs.Services, svc)
		objs.Texts = append(objs.Texts, source.ServiceTexts(svc, "", nil)...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	start := time.Now()
	if err := r.Apply(ctx, objs); err != nil {
		t.Fatal(err)
	}
	built := time.Since(start)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(server.DefaultMaxSendMsgSize)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
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
