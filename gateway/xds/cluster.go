package xds

import (
	"fmt"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kfgate/kfgate/gateway/ir"
	"github.com/kfgate/kfgate/gateway/mapping"
)

var lbPolicies = map[string]clusterv3.Cluster_LbPolicy{
	"": clusterv3.Cluster_ROUND_ROBIN, "round_robin": clusterv3.Cluster_ROUND_ROBIN,
	"least_request": clusterv3.Cluster_LEAST_REQUEST, "ring_hash": clusterv3.Cluster_RING_HASH, "maglev": clusterv3.Cluster_MAGLEV,
}

// Cluster builds one upstream cluster: EDS over ADS for Services with known EndpointSlices, STRICT_DNS
// otherwise.
func Cluster(c *ir.Cluster) (*clusterv3.Cluster, error) {
	cl := &clusterv3.Cluster{
		Name:            c.Name,
		ConnectTimeout:  durationpb.New(c.ConnectTimeout),
		LbPolicy:        lbPolicies[c.LBPolicy],
		CircuitBreakers: circuitBreakers(c.CircuitBreaker),
	}
	switch c.Kind {
	case ir.ClusterEDS:
		cl.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS}
		cl.EdsClusterConfig = &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsSource(), ServiceName: c.Name}
	case ir.ClusterStatic:
		cl.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}
		cl.LoadAssignment = LoadAssignment(c)
	default:
		cl.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS}
		cl.DnsLookupFamily = clusterv3.Cluster_V4_PREFERRED
		cl.LoadAssignment = &endpointv3.ClusterLoadAssignment{ClusterName: c.Name, Endpoints: []*endpointv3.LocalityLbEndpoints{{
			LbEndpoints: []*endpointv3.LbEndpoint{lbEndpoint(c.Host, c.Port)},
		}}}
	}
	if c.HTTP2 {
		opts, err := toAny(&httpv3.HttpProtocolOptions{UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &corev3.Http2ProtocolOptions{}},
			},
		}})
		if err != nil {
			return nil, err
		}
		cl.TypedExtensionProtocolOptions = map[string]*anypb.Any{"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": opts}
	}
	if c.TLS {
		socket, err := transportSocket(upstreamTLS(c))
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
		}
		cl.TransportSocket = socket
	}
	return cl, nil
}

func circuitBreakers(cbs []mapping.CircuitBreaker) *clusterv3.CircuitBreakers {
	if len(cbs) == 0 {
		return nil
	}
	out := &clusterv3.CircuitBreakers{}
	for _, cb := range cbs {
		t := &clusterv3.CircuitBreakers_Thresholds{Priority: corev3.RoutingPriority_DEFAULT,
			MaxConnections: u32(cb.MaxConnections), MaxPendingRequests: u32(cb.MaxPendingRequests),
			MaxRequests: u32(cb.MaxRequests), MaxRetries: u32(cb.MaxRetries)}
		if cb.Priority == "high" {
			t.Priority = corev3.RoutingPriority_HIGH
		}
		out.Thresholds = append(out.Thresholds, t)
	}
	return out
}

func u32(v *int64) *wrapperspb.UInt32Value {
	if v == nil {
		return nil
	}
	return wrapperspb.UInt32(uint32(*v))
}

func lbEndpoint(host string, port uint32) *endpointv3.LbEndpoint {
	return &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
		}}},
	}}}
}

// LoadAssignment lists an EDS cluster's ready endpoints.
func LoadAssignment(c *ir.Cluster) *endpointv3.ClusterLoadAssignment {
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: c.Name}
	if len(c.Endpoints) == 0 {
		return cla
	}
	loc := &endpointv3.LocalityLbEndpoints{}
	for _, e := range c.Endpoints {
		loc.LbEndpoints = append(loc.LbEndpoints, lbEndpoint(e.Address, e.Port))
	}
	cla.Endpoints = []*endpointv3.LocalityLbEndpoints{loc}
	return cla
}
