// Package xds translates kfgate's IR into Envoy v3 resources: one pure builder per concern (listener,
// routes, clusters, endpoints, filters). Nothing here does I/O.
package xds

import (
	"fmt"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/kfgate/kfgate/gateway/ir"
)

// Resources are the Envoy resources of one configuration, each list sorted by name.
type Resources struct {
	Listeners []*listenerv3.Listener
	Routes    []*routev3.RouteConfiguration
	Clusters  []*clusterv3.Cluster
	Endpoints []*endpointv3.ClusterLoadAssignment
}

// RouteConfigName is the name of the RouteConfiguration the HTTP listener fetches over RDS.
func RouteConfigName(port uint32) string { return fmt.Sprintf("http-%d", port) }

// Translate builds every resource for a configuration.
func Translate(cfg *ir.Config) (*Resources, error) {
	l, err := Listener(cfg.Listener)
	if err != nil {
		return nil, err
	}
	rc, err := RouteConfiguration(RouteConfigName(cfg.Listener.Port), cfg.VirtualHosts)
	if err != nil {
		return nil, err
	}
	res := &Resources{Listeners: []*listenerv3.Listener{l}, Routes: []*routev3.RouteConfiguration{rc}}
	for _, c := range cfg.Clusters {
		cl, err := Cluster(c)
		if err != nil {
			return nil, err
		}
		res.Clusters = append(res.Clusters, cl)
		if c.Kind == ir.ClusterEDS {
			res.Endpoints = append(res.Endpoints, LoadAssignment(c))
		}
	}
	return res, nil
}

// adsSource points Envoy at the ADS stream it already has.
func adsSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
}

// mustAny packs a message known to be valid; packing fails only for nil or unregistered types, which
// would be a programming error caught by the golden tests.
func toAny(m proto.Message) (*anypb.Any, error) {
	a, err := anypb.New(m)
	if err != nil {
		return nil, fmt.Errorf("packing %T: %w", m, err)
	}
	return a, nil
}
