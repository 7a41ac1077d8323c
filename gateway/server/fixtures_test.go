package server

import (
	"fmt"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	listenerName = "http"
	routesName   = "http-routes"
)

// spec describes a small gateway config; tests vary one field to change
// exactly one resource type.
type spec struct {
	clusters []string // each gets an EDS cluster, a CLA and a route
	port     uint32   // endpoint port: changes only EDS
	tag      string   // prefix rewrite suffix: changes only RDS
}

func defaultSpec() spec {
	return spec{clusters: []string{"svc-a", "svc-b"}, port: 8080, tag: "v1"}
}

// build renders a spec as a complete, consistent Resources value.
func build(t testing.TB, s spec) Resources {
	t.Helper()
	var r Resources
	routes := make([]*routev3.Route, 0, len(s.clusters))
	for i, c := range s.clusters {
		r.Clusters = append(r.Clusters, edsCluster(c))
		r.Endpoints = append(r.Endpoints, loadAssignment(c, fmt.Sprintf("10.0.0.%d", i+1), s.port))
		routes = append(routes, prefixRoute("/"+c+"/", c, "/"+s.tag+"/"))
	}
	r.Routes = []types.Resource{routeConfig(routesName, routes...)}
	r.Listeners = []types.Resource{httpListener(t, listenerName, routesName)}
	return r
}

// adsSource points at the ADS stream the resource itself arrived on.
func adsSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
}

func edsCluster(name string) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 name,
		ConnectTimeout:       durationpb.New(time.Second),
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsSource()},
	}
}

func loadAssignment(cluster, ip string, port uint32) *endpointv3.ClusterLoadAssignment {
	addr := &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       ip,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
	return &endpointv3.ClusterLoadAssignment{
		ClusterName: cluster,
		Endpoints: []*endpointv3.LocalityLbEndpoints{{
			LbEndpoints: []*endpointv3.LbEndpoint{{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: addr}},
			}},
		}},
	}
}

func prefixRoute(prefix, cluster, rewrite string) *routev3.Route {
	return &routev3.Route{
		Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: prefix}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: cluster},
			PrefixRewrite:    rewrite,
			Timeout:          durationpb.New(30 * time.Second),
		}},
	}
}

func regexRoute(regex, cluster string) *routev3.Route {
	return &routev3.Route{
		Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{
			SafeRegex: &matcherv3.RegexMatcher{Regex: regex},
		}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: cluster},
		}},
	}
}

func routeConfig(name string, routes ...*routev3.Route) *routev3.RouteConfiguration {
	return &routev3.RouteConfiguration{
		Name: name,
		VirtualHosts: []*routev3.VirtualHost{{
			Name: "all", Domains: []string{"*"}, Routes: routes,
		}},
	}
}

// httpListener is a listener whose HTTP connection manager takes its routes
// from RDS over ADS, as Envoy would be configured by kfgate.
func httpListener(t testing.TB, name, routeName string) *listenerv3.Listener {
	t.Helper()
	return listenerWithHCM(t, name, &hcmv3.HttpConnectionManager{
		StatPrefix: "ingress_http",
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource: adsSource(), RouteConfigName: routeName,
		}},
		HttpFilters: []*hcmv3.HttpFilter{{
			Name:       "envoy.filters.http.router",
			ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(t, &routerv3.Router{})},
		}},
	})
}

func listenerWithHCM(t testing.TB, name string, hcm *hcmv3.HttpConnectionManager) *listenerv3.Listener {
	t.Helper()
	return &listenerv3.Listener{
		Name: name,
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080},
		}}},
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name:       "envoy.filters.network.http_connection_manager",
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(t, hcm)},
			}},
		}},
	}
}

func mustAny(t testing.TB, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatalf("packing %T: %v", m, err)
	}
	return a
}

// largeRoutes builds the RouteConfiguration of services Services with
// mappings routes each: kfgate's worst case is ~10k Services x 2 Mappings.
func largeRoutes(services, mappings int) *routev3.RouteConfiguration {
	routes := make([]*routev3.Route, 0, services*mappings)
	for s := range services {
		ns, svc := fmt.Sprintf("team-%04d", s/10), fmt.Sprintf("service-%05d", s)
		cluster := fmt.Sprintf("%s.%s.svc.cluster.local:8080", svc, ns)
		for m := range mappings {
			prefix := fmt.Sprintf("/%s/%s/api/v%d/", ns, svc, m+1)
			routes = append(routes, prefixRoute(prefix, cluster, "/api/"))
		}
	}
	return routeConfig(routesName, routes...)
}
