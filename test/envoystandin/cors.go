package envoystandin

import (
	"net/http"

	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"

	"github.com/kfgate/kfgate/test/routeeval"
)

// corsPolicy is a route's CorsPolicy (per-filter config of the cors filter).
type corsPolicy struct {
	origins                             routeeval.StringMatchers
	methods, headers, expose, maxAge    string
	credentials, forward, privateAccess *bool
}

func compileCorsPolicy(c *corsv3.CorsPolicy, path string) (*corsPolicy, error) {
	origins, err := routeeval.CompileStringMatchers(c.GetAllowOriginStringMatch(), path+".allow_origin_string_match")
	if err != nil {
		return nil, err
	}
	p := &corsPolicy{origins: origins, methods: c.GetAllowMethods(), headers: c.GetAllowHeaders(),
		expose: c.GetExposeHeaders(), maxAge: c.GetMaxAge()}
	if c.GetAllowCredentials() != nil {
		p.credentials = new(c.GetAllowCredentials().GetValue())
	}
	if c.GetForwardNotMatchingPreflights() != nil {
		p.forward = new(c.GetForwardNotMatchingPreflights().GetValue())
	}
	if c.GetAllowPrivateNetworkAccess() != nil {
		p.privateAccess = new(c.GetAllowPrivateNetworkAccess().GetValue())
	}
	return p, nil
}

type corsFilter struct{ name string }

func (f corsFilter) newInstance() filterInstance { return &corsStream{name: f.name} }

// corsStream is the cors filter on one stream (CORS): preflights answered from the policy, the
// allowed origin latched for the response of other requests.
type corsStream struct {
	name    string
	policy  *corsPolicy
	isCors  bool
	latched string
}

func (c *corsStream) decodeHeaders(s *stream) *response {
	if !s.decision.Matched {
		return nil
	}
	p, ok := perFilterConfig[*corsPolicy](s, c.name)
	if !ok {
		return nil // no policy: the filter is not enabled for the route
	}
	c.policy = p
	origin := s.req.headers["origin"]
	if origin == "" {
		return nil
	}
	allowed := p.origins.MatchAny("*") || p.origins.MatchAny(origin)
	if allowed {
		c.latched = origin
	}
	c.isCors = true
	if s.req.method != http.MethodOptions || s.req.headers["access-control-request-method"] == "" {
		return nil
	}
	if !allowed && (p.forward == nil || *p.forward) {
		return nil // forward_not_matching_preflights defaults to true
	}
	resp := &response{status: http.StatusOK, header: headerMap{}}
	if allowed {
		setHeader(resp.header, "access-control-allow-origin", origin)
	}
	if p.credentials != nil && *p.credentials {
		setHeader(resp.header, "access-control-allow-credentials", "true")
	}
	if p.methods == "*" {
		setHeader(resp.header, "access-control-allow-methods", s.req.headers["access-control-request-method"])
	} else if p.methods != "" {
		setHeader(resp.header, "access-control-allow-methods", p.methods)
	}
	if p.headers == "*" {
		setHeader(resp.header, "access-control-allow-headers", s.req.headers["access-control-request-headers"])
	} else if p.headers != "" {
		setHeader(resp.header, "access-control-allow-headers", p.headers)
	}
	if p.maxAge != "" {
		setHeader(resp.header, "access-control-max-age", p.maxAge)
	}
	if p.privateAccess != nil && *p.privateAccess && s.req.headers["access-control-request-private-network"] == "true" {
		setHeader(resp.header, "access-control-allow-private-network", "true")
	}
	return resp
}

func (c *corsStream) encodeHeaders(_ *stream, resp *response) {
	if !c.isCors || c.latched == "" {
		return
	}
	setHeader(resp.header, "access-control-allow-origin", c.latched)
	if c.policy.credentials != nil && *c.policy.credentials {
		setHeader(resp.header, "access-control-allow-credentials", "true")
	}
	if c.policy.expose != "" {
		setHeader(resp.header, "access-control-expose-headers", c.policy.expose)
	}
}
