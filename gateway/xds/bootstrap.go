package xds

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"sigs.k8s.io/yaml"
)

// BootstrapOptions configure an Envoy bootstrap.
type BootstrapOptions struct {
	XDSAddress string // HOST:PORT of kfgate's xDS server
	NodeID     string
	Cluster    string
	AdminPort  uint32
	// RegexMaxSize raises Envoy's RE2 program size limit (default 100) to kfgate's, so that a regex
	// kfgate accepts is not refused by Envoy. It must be at least the Module's regex_max_size.
	RegexMaxSize uint32
}

// XDSClusterName is the static cluster through which Envoy reaches kfgate.
const XDSClusterName = "kfgate-xds"

// Bootstrap renders an Envoy bootstrap (ADS over gRPC; LDS and CDS over ADS; admin on 127.0.0.1).
func Bootstrap(o BootstrapOptions, format string) ([]byte, error) {
	b, err := BootstrapConfig(o)
	if err != nil {
		return nil, err
	}
	raw, err := protojson.Marshal(b)
	if err != nil {
		return nil, err
	}
	if format == "json" {
		var out bytes.Buffer
		if err := json.Indent(&out, raw, "", "  "); err != nil {
			return nil, err
		}
		return append(out.Bytes(), '\n'), nil
	}
	return yaml.JSONToYAML(raw)
}

// BootstrapConfig builds and validates the bootstrap message.
func BootstrapConfig(o BootstrapOptions) (*bootstrapv3.Bootstrap, error) {
	host, portStr, err := net.SplitHostPort(o.XDSAddress)
	if err != nil {
		return nil, fmt.Errorf("--xds-address %q: want HOST:PORT", o.XDSAddress)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return nil, fmt.Errorf("--xds-address %q: port must be 1-65535", o.XDSAddress)
	}
	h2, err := anypb.New(&httpv3.HttpProtocolOptions{UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{
		ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
			Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
		}},
	}})
	if err != nil {
		return nil, err
	}
	runtimeLayer, err := structpb.NewStruct(map[string]any{
		"re2.max_program_size.error_level": float64(max(o.RegexMaxSize, 100)),
		"re2.max_program_size.warn_level":  float64(max(o.RegexMaxSize, 100)),
	})
	if err != nil {
		return nil, err
	}
	kind := clusterv3.Cluster_STRICT_DNS
	if net.ParseIP(host) != nil {
		kind = clusterv3.Cluster_STATIC
	}
	b := &bootstrapv3.Bootstrap{
		Node:  &corev3.Node{Id: o.NodeID, Cluster: o.Cluster},
		Admin: &bootstrapv3.Admin{Address: socket("127.0.0.1", o.AdminPort)},
		LayeredRuntime: &bootstrapv3.LayeredRuntime{Layers: []*bootstrapv3.RuntimeLayer{{
			Name: "kfgate", LayerSpecifier: &bootstrapv3.RuntimeLayer_StaticLayer{StaticLayer: runtimeLayer},
		}}},
		DynamicResources: &bootstrapv3.Bootstrap_DynamicResources{
			AdsConfig: &corev3.ApiConfigSource{
				ApiType: corev3.ApiConfigSource_GRPC, TransportApiVersion: corev3.ApiVersion_V3, SetNodeOnFirstMessageOnly: true,
				GrpcServices: []*corev3.GrpcService{{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: XDSClusterName}}}},
			},
			CdsConfig: adsSource(),
			LdsConfig: adsSource(),
		},
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{Clusters: []*clusterv3.Cluster{{
			Name: XDSClusterName, ConnectTimeout: durationpb.New(time.Second),
			ClusterDiscoveryType:          &clusterv3.Cluster_Type{Type: kind},
			TypedExtensionProtocolOptions: map[string]*anypb.Any{"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": h2},
			LoadAssignment: &endpointv3.ClusterLoadAssignment{ClusterName: XDSClusterName, Endpoints: []*endpointv3.LocalityLbEndpoints{{
				LbEndpoints: []*endpointv3.LbEndpoint{lbEndpoint(host, uint32(port))},
			}}},
		}}},
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("invalid bootstrap: %w", err)
	}
	return b, nil
}

func socket(host string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}
