package xds

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/kfgate/kfgate/gateway/ir"
)

// ExtAuthz builds the ext_authz HTTP filter: gRPC, transport v3.
func ExtAuthz(a *ir.Auth) *extauthzv3.ExtAuthz {
	cfg := &extauthzv3.ExtAuthz{
		Services: &extauthzv3.ExtAuthz_GrpcService{GrpcService: &corev3.GrpcService{
			TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: a.Cluster}},
			Timeout:         durationpb.New(a.Timeout),
		}},
		TransportApiVersion: corev3.ApiVersion_V3,
		FailureModeAllow:    a.FailureModeAllow,
		StatusOnError:       &typev3.HttpStatus{Code: typev3.StatusCode(a.StatusOnError)},
	}
	if a.IncludeBody != nil {
		cfg.WithRequestBody = &extauthzv3.BufferSettings{
			MaxRequestBytes: uint32(a.IncludeBody.MaxBytes), AllowPartialMessage: a.IncludeBody.AllowPartial,
		}
	}
	if len(a.AllowedHeaders) > 0 {
		list := &matcherv3.ListStringMatcher{}
		for _, h := range a.AllowedHeaders {
			list.Patterns = append(list.Patterns, &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: h}})
		}
		cfg.AllowedHeaders = list
	}
	return cfg
}

// extAuthzPerRoute disables the check on bypass_auth routes, and otherwise sends the route's context
// extensions (namespace, service, mapping) to the auth service.
func extAuthzPerRoute(a *ir.RouteAuth) *extauthzv3.ExtAuthzPerRoute {
	if a.Disabled {
		return &extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_Disabled{Disabled: true}}
	}
	return &extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_CheckSettings{
		CheckSettings: &extauthzv3.CheckSettings{ContextExtensions: a.ContextExtensions},
	}}
}
