package envoystandin

import (
	"fmt"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/kfgate/kfgate/test/routeeval"
)

// routeTable is a RouteConfiguration: routeeval's Router, plus what the stand-in compiles of the
// parts routeeval leaves as they are: per-filter configs (keyed by the Any routeeval's Decision
// hands back) and retry policies (keyed by the policy the Decision hands back), both compiled
// when the table is, so an invalid one is NACKed rather than ignored at request time.
type routeTable struct {
	router       *routeeval.Router
	internalOnly []string
	perFilter    map[*anypb.Any]any
	retries      map[*routev3.RetryPolicy]*retryPolicy
}

func compileRoutes(rc *routev3.RouteConfiguration) (*routeTable, error) {
	r, err := routeeval.Compile(rc)
	if err != nil {
		return nil, err
	}
	rt := &routeTable{router: r, perFilter: map[*anypb.Any]any{}, retries: map[*routev3.RetryPolicy]*retryPolicy{}}
	for _, h := range rc.GetInternalOnlyHeaders() {
		rt.internalOnly = append(rt.internalOnly, strings.ToLower(h))
	}
	if err := rt.addPerFilter(rc.GetTypedPerFilterConfig(), "typed_per_filter_config", false); err != nil {
		return nil, err
	}
	for i, vh := range rc.GetVirtualHosts() {
		p := fmt.Sprintf("virtual_hosts[%d]", i)
		if vh.GetCors() != nil { //nolint:staticcheck // deprecated, and still honoured by Envoy: refused here
			return nil, fmt.Errorf("%s.cors: route-table CORS policies are not implemented (use typed_per_filter_config)", p)
		}
		if err := rt.addRetry(vh.GetRetryPolicy(), p+".retry_policy"); err != nil {
			return nil, err
		}
		if err := rt.addPerFilter(vh.GetTypedPerFilterConfig(), p+".typed_per_filter_config", false); err != nil {
			return nil, err
		}
		for j, route := range vh.GetRoutes() {
			if err := rt.addRoute(route, fmt.Sprintf("%s.routes[%d]", p, j)); err != nil {
				return nil, err
			}
		}
	}
	return rt, nil
}

func (rt *routeTable) addRoute(r *routev3.Route, p string) error {
	if err := rt.addPerFilter(r.GetTypedPerFilterConfig(), p+".typed_per_filter_config", true); err != nil {
		return err
	}
	a := r.GetRoute()
	if a == nil {
		return nil
	}
	if a.GetCors() != nil { //nolint:staticcheck // deprecated, and still honoured by Envoy: refused here
		return fmt.Errorf("%s.route.cors: route-table CORS policies are not implemented (use typed_per_filter_config)", p)
	}
	if err := rt.addRetry(a.GetRetryPolicy(), p+".route.retry_policy"); err != nil {
		return err
	}
	for i, h := range a.GetHashPolicy() {
		if err := checkPolicy(h, fmt.Sprintf("%s.route.hash_policy[%d]", p, i)); err != nil {
			return err
		}
	}
	for i, l := range a.GetRateLimits() {
		if err := checkPolicy(l, fmt.Sprintf("%s.route.rate_limits[%d]", p, i)); err != nil {
			return err
		}
	}
	return nil
}

// checkPolicy walks a policy routeeval records without checking it.
func checkPolicy(m proto.Message, path string) error {
	if !m.ProtoReflect().IsValid() {
		return nil
	}
	return checkStrict(m.ProtoReflect(), path)
}

// addPerFilter compiles per-filter configs. ext_authz and CORS configs merge across levels in Envoy
// (context extensions; CORS policies by field), which routeeval's most-specific-wins Decision does
// not model, so they are accepted on routes only; local_ratelimit is most-specific-wins in Envoy too.
func (rt *routeTable) addPerFilter(m map[string]*anypb.Any, path string, route bool) error {
	for name, a := range m {
		p := path + "[" + name + "]"
		if err := checkStrict(a.ProtoReflect(), p); err != nil {
			return err
		}
		var compiled any
		var err error
		switch typeName(a.GetTypeUrl()) {
		case "envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute":
			var cfg *extauthzv3.ExtAuthzPerRoute
			if cfg, err = unpack(a, &extauthzv3.ExtAuthzPerRoute{}, p); err == nil {
				compiled = compileAuthzPerRoute(cfg)
			}
		case "envoy.extensions.filters.http.cors.v3.CorsPolicy":
			var cfg *corsv3.CorsPolicy
			if cfg, err = unpack(a, &corsv3.CorsPolicy{}, p); err == nil {
				compiled, err = compileCorsPolicy(cfg, p)
			}
		case "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit":
			var cfg *localratelimitv3.LocalRateLimit
			if cfg, err = unpack(a, &localratelimitv3.LocalRateLimit{}, p); err == nil {
				compiled, err = compileLocalRateLimit(cfg, true, p)
			}
			route = true // no merging: any level is exact
		default:
			err = fmt.Errorf("%s: per-filter config type %s is not implemented", p, a.GetTypeUrl())
		}
		if err != nil {
			return err
		}
		if !route {
			return fmt.Errorf("%s: a %s above the route level is not implemented (Envoy merges it across levels)",
				p, typeName(a.GetTypeUrl()))
		}
		rt.perFilter[a] = compiled
	}
	return nil
}

// perFilterConfig is the compiled per-filter config a decision carries for the filter named name.
func perFilterConfig[T any](s *stream, name string) (T, bool) {
	var zero T
	if s.routes == nil {
		return zero, false
	}
	a := s.decision.TypedPerFilterConfig[name]
	if a == nil {
		return zero, false
	}
	c, ok := s.routes.perFilter[a].(T)
	return c, ok
}
