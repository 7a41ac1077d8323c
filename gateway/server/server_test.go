package server

import (
	"context"
	"testing"
	"time"

	"github.com/kfgate/kfgate/test/xdsclient"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestInitialSnapshotReachesSotWAndDeltaClients(t *testing.T) {
	e := startEnv(t, Options{})
	if e.srv.Ready() || e.srv.Version() != "" {
		t.Fatalf("before Publish: Ready=%v Version=%q, want false and empty", e.srv.Ready(), e.srv.Version())
	}
	if got := e.health(t); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health before Publish = %v, want NOT_SERVING", got)
	}

	// The SotW client connects first and waits; the Delta client joins late.
	sotw := xdsclient.NewSotW(t, e.conn, "envoy-sotw")
	v := e.publish(t, build(t, defaultSpec()))
	if !e.srv.Ready() || e.srv.Version() != v {
		t.Fatalf("after Publish: Ready=%v Version=%q, want true and %q", e.srv.Ready(), e.srv.Version(), v)
	}
	if got := e.health(t); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health after Publish = %v, want SERVING", got)
	}

	got := sotw.Await(e.typeVersions())
	for typ, n := range map[string]int{
		resourcev3.ClusterType: 2, resourcev3.EndpointType: 2, resourcev3.ListenerType: 1, resourcev3.RouteType: 1,
	} {
		if len(got[typ].GetResources()) != n {
			t.Errorf("sotw %s: %d resources, want %d", kindOf(typ), len(got[typ].GetResources()), n)
		}
	}

	delta := xdsclient.NewDelta(t, e.conn, "envoy-delta")
	delta.Await(e.typeVersions())
	if n := len(delta.Snapshot(resourcev3.EndpointType)); n != 2 {
		t.Errorf("delta holds %d ClusterLoadAssignments, want 2", n)
	}

	// Every response on both streams is ACKed: 4 types x 2 clients.
	eventually(t, "8 ACKs", func() bool { return e.srv.Stats().Acks >= 8 })
	st := e.srv.Stats()
	if st.ConnectedStreams != 2 || st.Nacks != 0 || st.Pushes < 8 || st.Version != v {
		t.Errorf("Stats = %+v, want 2 streams, 0 NACKs, >= 8 pushes, version %s", st, v)
	}
	for _, mode := range []string{"sotw", "delta"} {
		if n := e.metric(t, "kfgate_xds_connected_streams", "mode", mode); n != 1 {
			t.Errorf("connected_streams{mode=%s} = %v, want 1", mode, n)
		}
	}
	for _, typ := range []string{"cds", "eds", "lds", "rds"} {
		if n := e.metric(t, "kfgate_xds_acks_total", "type", typ); n < 2 {
			t.Errorf("acks_total{type=%s} = %v, want >= 2", typ, n)
		}
		if n := e.metric(t, "kfgate_xds_ack_latency_seconds", "type", typ); n < 2 {
			t.Errorf("ack_latency_seconds{type=%s} has %v samples, want >= 2 (one per ACK of a latest response)", typ, n)
		}
	}
	if n := e.metric(t, "kfgate_snapshot_version_info", "version", v); n != 1 {
		t.Errorf("snapshot_version_info{version=%s} = %v, want 1", v, n)
	}
}

func TestChangedContentIsPushedOnlyForChangedType(t *testing.T) {
	e := startEnv(t, Options{})
	s := defaultSpec()
	v1 := e.publish(t, build(t, s))
	sotw := xdsclient.NewSotW(t, e.conn, "envoy-sotw")
	delta := xdsclient.NewDelta(t, e.conn, "envoy-delta")
	sotw.Await(e.typeVersions())
	delta.Await(e.typeVersions())

	before := e.typeVersions()
	s.port = 9090
	v2 := e.publish(t, build(t, s))
	if v2 == v1 {
		t.Fatalf("changed endpoints kept version %s", v1)
	}
	after := e.typeVersions()
	for typ := range before {
		if changed := before[typ] != after[typ]; changed != (typ == resourcev3.EndpointType) {
			t.Errorf("%s version %s -> %s; only EDS should change", kindOf(typ), before[typ], after[typ])
		}
	}

	// The very next response must be the new EDS: nothing else was re-sent.
	resp := sotw.Next()
	if resp.GetTypeUrl() != resourcev3.EndpointType || resp.GetVersionInfo() != after[resourcev3.EndpointType] {
		t.Fatalf("sotw got %s@%s, want EDS@%s", kindOf(resp.GetTypeUrl()), resp.GetVersionInfo(), after[resourcev3.EndpointType])
	}
	for _, a := range resp.GetResources() {
		var cla endpointv3.ClusterLoadAssignment
		if err := a.UnmarshalTo(&cla); err != nil {
			t.Fatalf("decoding CLA: %v", err)
		}
		port := cla.GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue()
		if port != 9090 {
			t.Errorf("CLA %s port %d, want 9090", cla.GetClusterName(), port)
		}
	}
	dresp := delta.Next()
	if dresp.GetTypeUrl() != resourcev3.EndpointType || len(dresp.GetResources()) != 2 {
		t.Fatalf("delta got %s with %d resources, want EDS with 2", kindOf(dresp.GetTypeUrl()), len(dresp.GetResources()))
	}

	// A route change likewise arrives alone.
	s.tag = "v2"
	e.publish(t, build(t, s))
	if resp := sotw.Next(); resp.GetTypeUrl() != resourcev3.RouteType {
		t.Fatalf("sotw got %s, want RDS", kindOf(resp.GetTypeUrl()))
	}
	if dresp := delta.Next(); dresp.GetTypeUrl() != resourcev3.RouteType {
		t.Fatalf("delta got %s, want RDS", kindOf(dresp.GetTypeUrl()))
	}
}

func TestNACKIsCountedLoggedAndServingContinues(t *testing.T) {
	e := startEnv(t, Options{})
	s := defaultSpec()
	e.publish(t, build(t, s))
	sotw := xdsclient.NewSotW(t, e.conn, "envoy-sotw")
	delta := xdsclient.NewDelta(t, e.conn, "envoy-delta")
	sotw.Await(e.typeVersions())
	delta.Await(e.typeVersions())

	sotw.NackNext(resourcev3.RouteType, "route rejected by sotw client")
	delta.NackNext(resourcev3.RouteType, "route rejected by delta client")
	s.tag = "v2"
	e.publish(t, build(t, s))
	rejected := e.srv.TypeVersion(resourcev3.RouteType)
	sotw.Await(map[string]string{resourcev3.RouteType: rejected})
	delta.Await(map[string]string{resourcev3.RouteType: rejected})

	eventually(t, "2 NACKs", func() bool { return e.srv.Stats().Nacks == 2 })
	if n := e.metric(t, "kfgate_xds_nacks_total", "type", "rds"); n != 2 {
		t.Errorf("nacks_total{type=rds} = %v, want 2", n)
	}
	for _, who := range []string{"sotw", "delta"} {
		line, ok := e.logs.find(`"xDS NACK"`, `"node"="envoy-`+who+`"`, `"version"="`+rejected+`"`, "rejected by "+who)
		if !ok {
			t.Errorf("no NACK log line for the %s client; logs: %v", who, e.logs.all())
		}
		t.Logf("NACK log: %s", line)
	}

	// The rejected RouteConfiguration is not re-sent: the next response on
	// each stream is the endpoint change published after the NACK.
	s.port = 9090
	e.publish(t, build(t, s))
	if resp := sotw.Next(); resp.GetTypeUrl() != resourcev3.EndpointType {
		t.Fatalf("after NACK sotw got %s, want EDS (no RDS resend)", kindOf(resp.GetTypeUrl()))
	}
	if resp := delta.Next(); resp.GetTypeUrl() != resourcev3.EndpointType {
		t.Fatalf("after NACK delta got %s, want EDS (no RDS resend)", kindOf(resp.GetTypeUrl()))
	}

	// A corrected route is delivered and accepted by both.
	acks := e.srv.Stats().Acks
	s.tag = "v3"
	e.publish(t, build(t, s))
	fixed := e.srv.TypeVersion(resourcev3.RouteType)
	sotw.Await(map[string]string{resourcev3.RouteType: fixed})
	delta.Await(map[string]string{resourcev3.RouteType: fixed})
	eventually(t, "ACKs of the fixed routes", func() bool { return e.srv.Stats().Acks >= acks+2 })
	if n := e.srv.Stats().Nacks; n != 2 {
		t.Errorf("NACKs = %d, want still 2", n)
	}
}

func TestServeStopsPromptlyWithConnectedClients(t *testing.T) {
	e := startEnv(t, Options{})
	e.publish(t, build(t, defaultSpec()))
	sotw := xdsclient.NewSotW(t, e.conn, "envoy-sotw")
	sotw.Await(e.typeVersions())
	if err := e.stop(); err != nil {
		t.Fatalf("Serve returned %v after cancel, want nil", err)
	}
	select {
	case <-sotw.Done():
	case <-time.After(xdsclient.WaitTimeout):
		t.Fatal("the stream did not end after Serve stopped")
	}
	if n := e.srv.Stats().ConnectedStreams; n != 0 {
		t.Errorf("connected streams after stop = %d, want 0", n)
	}
}

func TestIndividualCDSService(t *testing.T) {
	e := startEnv(t, Options{})
	e.publish(t, build(t, defaultSpec()))
	ctx, cancel := context.WithTimeout(context.Background(), xdsclient.WaitTimeout)
	defer cancel()
	stream, err := clusterservice.NewClusterDiscoveryServiceClient(e.conn).StreamClusters(ctx)
	if err != nil {
		t.Fatalf("StreamClusters: %v", err)
	}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.ClusterType}); err != nil {
		t.Fatalf("sending CDS request: %v", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("receiving CDS: %v", err)
	}
	if len(resp.GetResources()) != 2 || resp.GetVersionInfo() != e.srv.TypeVersion(resourcev3.ClusterType) {
		t.Errorf("CDS response: %d clusters at %s, want 2 at %s",
			len(resp.GetResources()), resp.GetVersionInfo(), e.srv.TypeVersion(resourcev3.ClusterType))
	}
}

func (e *testEnv) health(t *testing.T) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), xdsclient.WaitTimeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(e.conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("health check: %v", err)
	}
	return resp.GetStatus()
}

// routeCount counts the routes in a RouteConfiguration.
func routeCount(rc *routev3.RouteConfiguration) int {
	n := 0
	for _, vh := range rc.GetVirtualHosts() {
		n += len(vh.GetRoutes())
	}
	return n
}
