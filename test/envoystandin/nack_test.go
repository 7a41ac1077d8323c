package envoystandin_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kfgate/kfgate/gateway/server"
	"github.com/kfgate/kfgate/test/envoystandin"
)

// TestNACKsUnimplementedField: a hand-made snapshot whose Listener carries a field the stand-in
// does not implement is NACKed (previous version, error naming the field), the kfgate server
// counts the NACK, and the previous listener keeps serving.
func TestNACKsUnimplementedField(t *testing.T) {
	_, port := startEcho(t)
	cp := startControlPlane(t)
	publish := func(l *listenerv3.Listener) {
		t.Helper()
		_, err := cp.srv.Publish(context.Background(), server.Resources{
			Listeners: []types.Resource{l}, Routes: []types.Resource{routeTable()}, Clusters: []types.Resource{staticCluster(port)},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	publish(listener(t, nil))
	var mu sync.Mutex
	var rejected []envoystandin.Rejection
	e := startEnvoy(t, cp, envoystandin.Options{OnReject: func(r envoystandin.Rejection) {
		mu.Lock()
		rejected = append(rejected, r)
		mu.Unlock()
	}})
	v1 := waitRoutes(t, e, cp).Versions[resourcev3.ListenerType]

	publish(listener(t, wrapperspb.UInt32(1<<20)))
	v2 := cp.srv.TypeVersion(resourcev3.ListenerType)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	st, err := e.Wait(ctx, func(s envoystandin.State) bool { return len(s.Rejections) > 0 })
	if err != nil {
		t.Fatal(err)
	}
	r := st.Rejections[0]
	if r.TypeURL != resourcev3.ListenerType || r.Version != v2 || len(r.Errors) != 1 ||
		!strings.Contains(r.Errors[0], "per_connection_buffer_limit_bytes (envoy.config.listener.v3.Listener.per_connection_buffer_limit_bytes) is not implemented") {
		t.Fatalf("rejection %+v; want LDS %s refused for per_connection_buffer_limit_bytes", r, v2)
	}
	if st.Versions[resourcev3.ListenerType] != v1 {
		t.Errorf("accepted LDS version %q after the NACK, want the previous %q", st.Versions[resourcev3.ListenerType], v1)
	}
	mu.Lock()
	if len(rejected) != 1 {
		t.Errorf("OnReject got %d rejections, want 1", len(rejected))
	}
	mu.Unlock()
	if resp := get(t, e.Addr(8080), "/static/x", nil); resp.StatusCode != http.StatusOK || decodeEcho(t, resp).Path != "/x" {
		t.Errorf("after the NACK: status %d; the previous listener must keep serving", resp.StatusCode)
	}
	for cp.srv.Stats().Nacks == 0 { // the server offers nothing to wait on: poll its counter
		if ctx.Err() != nil {
			t.Fatal("the kfgate server never saw the NACK")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func listener(t *testing.T, bufferLimit *wrapperspb.UInt32Value) *listenerv3.Listener {
	router, err := anypb.New(&routerv3.Router{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := anypb.New(&hcmv3.HttpConnectionManager{StatPrefix: "static",
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{RouteConfigName: "static", ConfigSource: &corev3.ConfigSource{
			ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}, ResourceApiVersion: corev3.ApiVersion_V3}}},
		HttpFilters: []*hcmv3.HttpFilter{{Name: "envoy.filters.http.router", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &listenerv3.Listener{Name: "http-8080", Address: address("0.0.0.0", 8080), PerConnectionBufferLimitBytes: bufferLimit,
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{Name: "envoy.filters.network.http_connection_manager",
			ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: h}}}}}}
}

func routeTable() *routev3.RouteConfiguration {
	return &routev3.RouteConfiguration{Name: "static", VirtualHosts: []*routev3.VirtualHost{{Name: "all", Domains: []string{"*"},
		Routes: []*routev3.Route{{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/static/"}},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{PrefixRewrite: "/",
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "static"}}}}}}}}
}

func staticCluster(port int) *clusterv3.Cluster {
	return &clusterv3.Cluster{Name: "static", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		LoadAssignment: &endpointv3.ClusterLoadAssignment{ClusterName: "static", Endpoints: []*endpointv3.LocalityLbEndpoints{{
			LbEndpoints: []*endpointv3.LbEndpoint{{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
				Address: address("127.0.0.1", uint32(port))}}}}}}}}
}

func address(host string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}
}
