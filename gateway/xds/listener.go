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
	FilterExtAuthz = "envoy.filters.http.ext_authz"
	FilterCORS     = "envoy.filters.http.cors"
	FilterRouter   = "envoy.filters.http.router"
	FilterHCM      = "envoy.filters.network.http_connection_manager"
)

// Listener builds the HTTP listener: an HTTP connection manager on RDS with path hygiene on, so that
// routing and the auth service see the same normalised path.
func Listener(l ir.Listener) (*listenerv3.Listener, error) {
	filters, err := httpFilters(l)
	if err != nil {
		return nil, err
	}
	name := RouteConfigName(l.Port)
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: name,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource: adsSource(), RouteConfigName: name,
		}},
		HttpFilters:                  filters,
		NormalizePath:                wrapperspb.Bool(true),
		MergeSlashes:                 true,
		PathWithEscapedSlashesAction: hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT,
		UseRemoteAddress:             wrapperspb.Bool(l.UseRemoteAddress),
		XffNumTrustedHops:            l.XFFNumTrustedHops,
	}
	hcmAny, err := toAny(hcm)
	if err != nil {
		return nil, err
	}
	return &listenerv3.Listener{
		Name: name,
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: l.Port},
		}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name: FilterHCM, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcmAny},
		}}}},
	}, nil
}

// httpFilters: ext_authz only with an AuthService, CORS only when a route uses it, router last.
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
	if l.Auth != nil {
		if err := add(FilterExtAuthz, ExtAuthz(l.Auth)); err != nil {
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
