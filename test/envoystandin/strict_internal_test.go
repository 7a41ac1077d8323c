package envoystandin

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"
)

// Every allowlist entry names a real field: a typo would silently refuse a field.
func TestAllowlistNamesRealFields(t *testing.T) {
	if err := allowed.Verify(); err != nil {
		t.Error(err)
	}
}

// A field the stand-in does not implement, even deep inside an Any, is refused by name.
func TestStrictRefusesUnimplementedFields(t *testing.T) {
	e := &Envoy{opts: Options{Ports: map[uint32]string{8080: ""}}, rnd: newRand(1)}
	h := &hcmv3.HttpConnectionManager{StatPrefix: "x", ServerHeaderTransformation: hcmv3.HttpConnectionManager_PASS_THROUGH,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{RouteConfigName: "r"}}}
	a, err := anypb.New(h)
	if err != nil {
		t.Fatal(err)
	}
	l := &listenerv3.Listener{Name: "l", Address: socketAddr(8080), FilterChains: []*listenerv3.FilterChain{{
		Filters: []*listenerv3.Filter{{Name: "hcm", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: a}}}}}}
	_, err = e.compileListener(l)
	want := "filter_chains[0].filters[0].typed_config<HttpConnectionManager>.server_header_transformation " +
		"(envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.server_header_transformation) is not implemented"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("compileListener: %v; want %q", err, want)
	}
	h.ServerHeaderTransformation = hcmv3.HttpConnectionManager_OVERWRITE
	if a, err = anypb.New(h); err != nil {
		t.Fatal(err)
	}
	l.FilterChains[0].Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: a}
	l.ListenerFilters = []*listenerv3.ListenerFilter{{Name: "x", ConfigType: &listenerv3.ListenerFilter_TypedConfig{
		TypedConfig: &anypb.Any{TypeUrl: "type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol"}}}}
	if _, err := e.compileListener(l); err == nil || !strings.Contains(err.Error(), "proxy_protocol.v3.ProxyProtocol is not implemented") {
		t.Fatalf("compileListener with an unknown listener filter: %v", err)
	}
	c := &clusterv3.Cluster{Name: "c", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		LoadAssignment: &endpointv3.ClusterLoadAssignment{ClusterName: "c"}, IgnoreHealthOnHostRemoval: true}
	if _, err := e.compileCluster(c); err == nil || !strings.Contains(err.Error(), "ignore_health_on_host_removal") {
		t.Fatalf("compileCluster: %v", err)
	}
}

// Everything kfgate emits for its golden inputs is accepted, but the global rate limit filter,
// which the stand-in refuses loudly.
func TestAcceptsKfgateGoldens(t *testing.T) {
	files, err := filepath.Glob("../../gateway/build/testdata/*.out.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden outputs: %v", err)
	}
	e := &Envoy{opts: Options{Ports: map[uint32]string{8080: "", 8443: ""}}, rnd: newRand(1)}
	counts := map[string]int{}
	for _, f := range files {
		var doc map[string][]json.RawMessage
		b, err := os.ReadFile(f)
		if err == nil {
			b, err = yaml.YAMLToJSON(b)
		}
		if err == nil {
			err = json.Unmarshal(b, &doc)
		}
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		name := filepath.Base(f)
		check := func(kind string, m proto.Message, compile func() error) {
			for _, raw := range doc[kind] {
				proto.Reset(m)
				if err := protojson.Unmarshal(raw, m); err != nil {
					t.Fatalf("%s: %s: %v", name, kind, err)
				}
				err := compile()
				refused := err != nil && strings.Contains(err.Error(), "type type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit is not implemented")
				if err != nil && !refused {
					t.Errorf("%s: %s refused: %v", name, kind, err)
				}
				counts[kind]++
			}
		}
		var l listenerv3.Listener
		check("listeners", &l, func() error { _, err := e.compileListener(&l); return err })
		var rc routev3.RouteConfiguration
		check("routes", &rc, func() error { _, err := compileRoutes(&rc); return err })
		var c clusterv3.Cluster
		check("clusters", &c, func() error { _, err := e.compileCluster(&c); return err })
		var cla endpointv3.ClusterLoadAssignment
		check("endpoints", &cla, func() error { _, err := compileEndpoints(&cla, ""); return err })
	}
	t.Logf("checked %v", counts)
}

func socketAddr(port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}
}
