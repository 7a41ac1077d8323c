package xds

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kfgate/kfgate/gateway/ir"
)

// Filter names, as Envoy registers them.
const (
	FilterExtAuthz       = "envoy.filters.http.ext_authz"
	FilterCORS           = "envoy.filters.http.cors"
	FilterLocalRateLimit = "envoy.filters.http.local_ratelimit"
	FilterRateLimit      = "envoy.filters.http.ratelimit"
	FilterRouter         = "envoy.filters.http.router"
	FilterHCM            = "envoy.filters.network.http_connection_manager"
)

// Listener builds the cleartext HTTP listener on the route table rds.
func Listener(l ir.Listener, rds string) (*listenerv3.Listener, error) {
	name := RouteConfigName(l.Port)
	hcm, err := connectionManager(l, name, rds)
	if err != nil {
		return nil, err
	}
	return &listenerv3.Listener{
		Name:         name,
		Address:      socketAddress("0.0.0.0", l.Port),
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{hcm}}},
	}, nil
}

// connectionManager is the HTTP connection manager every listener and filter chain runs: RDS, path
// hygiene on (so routing and the auth service see the same normalised path), the access log, and a
// request id generated at the edge, sent upstream and returned to the client.
func connectionManager(l ir.Listener, statPrefix, rds string) (*listenerv3.Filter, error) {
	filters, err := httpFilters(l)
	if err != nil {
		return nil, err
	}
	logs, err := accessLogs(l.AccessLog)
	if err != nil {
		return nil, err
	}
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: statPrefix,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource: adsSource(), RouteConfigName: rds,
		}},
		HttpFilters:                  filters,
		NormalizePath:                wrapperspb.Bool(true),
		MergeSlashes:                 true,
		PathWithEscapedSlashesAction: hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT,
		UseRemoteAddress:             wrapperspb.Bool(l.UseRemoteAddress),
		XffNumTrustedHops:            l.XFFNumTrustedHops,
		AccessLog:                    logs,
		PreserveExternalRequestId:    l.PreserveExternalRequestID,
		AlwaysSetRequestIdInResponse: true,
	}
	hcmAny, err := toAny(hcm)
	if err != nil {
		return nil, err
	}
	return &listenerv3.Filter{Name: FilterHCM, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcmAny}}, nil
}

func socketAddress(host string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

// httpFilters, in Envoy's order of execution: the local rate limit first (cheapest, and it sheds
// load before anything else is asked; always installed, since it does nothing on routes without
// their own bucket, so that the first local_rate_limit in the cluster does not change, and drain,
// every listener), ext_authz with an AuthService, the global rate limit with a
// RateLimitService (after authentication, so descriptors may use the identity headers), CORS when a
// route uses it, router last.
func httpFilters(l ir.Listener) ([]*hcmv3.HttpFilter, error) {
	var out []*hcmv3.HttpFilter
	add := func(name string, cfg proto.Message) error {
		a, err := toAny(cfg)
		if err != nil {
			return err
		}
		out = append(out, &hcmv3.HttpFilter{Name: name, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: a}})
		return nil
	}
	if err := add(FilterLocalRateLimit, localRateLimitFilter()); err != nil {
		return nil, err
	}
	if l.Auth != nil {
		if err := add(FilterExtAuthz, ExtAuthz(l.Auth)); err != nil {
			return nil, err
		}
	}
	if l.RateLimit != nil {
		if err := add(FilterRateLimit, rateLimitFilter(l.RateLimit)); err != nil {
			return nil, err
		}
	}
	if l.CORS {
		if err := add(FilterCORS, &corsv3.Cors{}); err != nil {
			return nil, err
		}
	}
	if err := add(FilterRouter, &routerv3.Router{}); err != nil {
		return nil, err
	}
	return out, nil
}
