package routeeval

import (
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// Route evaluates one request: virtual host selection, require_tls, then the first matching route
// in order (CI RouteMatcher::route, VirtualHostImpl::getRouteFromEntries / getRouteFromRoutes).
func (r *Router) Route(req Request) Decision {
	v := r.newView(req)
	vh := r.vhosts.find(req.Authority, req.Authority != "", r.ignorePort)
	if vh == nil {
		return Decision{}
	}
	// require_tls uses x-forwarded-proto, not the connection (CI getRouteFromEntries).
	proto := v.forwardedProto()
	if (vh.requireTLS == routev3.VirtualHost_ALL && proto != "https") ||
		(vh.requireTLS == routev3.VirtualHost_EXTERNAL_ONLY && proto != "https" && v.req.Headers["x-envoy-internal"] != "true") {
		return r.tlsRedirect(v, vh)
	}
	for _, rt := range vh.routes {
		if n, ok := rt.match.matches(v); ok {
			return r.decide(v, vh, rt, n)
		}
	}
	return Decision{VirtualHost: vh.name}
}

// tlsRedirect is the SslRedirectRoute: a 301 to https://host/path with no header mutations.
func (r *Router) tlsRedirect(v *view, vh *virtualHost) Decision {
	return Decision{
		Matched: true, VirtualHost: vh.name, VirtualCluster: vh.virtualClusterFor(v.get), TLSRedirect: true,
		Path: v.req.Path, Host: v.req.Authority,
		Redirect:             &Redirect{Location: sslRedirectLocation(v), Code: 301},
		TypedPerFilterConfig: mergePerFilter(r.perFilter, vh.perFilter, nil),
		InternalOnlyStripped: v.stripped,
	}
}

func (r *Router) decide(v *view, vh *virtualHost, rt *route, matchedLen int) Decision {
	d := Decision{
		Matched: true, VirtualHost: vh.name, VirtualCluster: vh.virtualClusterFor(v.get), RouteName: rt.name,
		Path: v.req.Path, Host: v.req.Authority,
		TypedPerFilterConfig: mergePerFilter(r.perFilter, vh.perFilter, rt.perFilter),
		InternalOnlyStripped: v.stripped,
	}
	r.addHeaderMutations(&d, v.req, vh, rt)
	switch {
	case rt.forward != nil:
		r.decideForward(&d, v, vh, rt.forward, matchedLen)
	case rt.redirect != nil:
		d.Path = rt.redirect.rewrittenPath(v.req.Path, matchedLen)
		d.Redirect = &Redirect{Location: rt.redirect.location(v, d.Path), Code: rt.redirect.code}
	default:
		direct := *rt.direct
		direct.URI = (*redirectAction)(nil).location(v, v.req.Path)
		d.DirectResponse = &direct
	}
	return d
}

func (r *Router) decideForward(d *Decision, v *view, vh *virtualHost, f *forwardAction, matchedLen int) {
	d.Cluster = f.pickCluster(v.req.Random, v.get)
	d.WeightedClusters = append([]WeightedCluster(nil), f.weighted...)
	d.Path, d.PathRewritten = rewritePath(v.req.Path, matchedLen, f.prefixRewrite, f.regexRewrite)
	if f.hostLiteral != "" {
		d.Host, d.HostRewriteLiteral = f.hostLiteral, f.hostLiteral
	}
	d.AutoHostRewrite, d.AppendXForwardedHost = f.autoHost, f.appendXFH
	d.Timeout, d.IdleTimeout = copyDuration(f.timeout), copyDuration(f.idleTimeout)
	d.Upgrades = append([]string(nil), f.upgrades...)
	d.DisabledUpgrades = append([]string(nil), f.disabled...)
	// Mirror, retry and CORS policies: the route's, else the virtual host's (mirrors: else the
	// route configuration's) (CI RouteEntryImplBase / CommonVirtualHostImpl constructors).
	d.MirrorPolicies = firstNonEmpty(f.mirrors, vh.mirrors, r.mirrors)
	for _, m := range d.MirrorPolicies {
		d.Mirrors = append(d.Mirrors, m.Cluster)
	}
	d.RetryPolicy, d.CORS, d.HashPolicy, d.RateLimits = f.retry, f.cors, f.hash, f.rateLimits
	if d.RetryPolicy == nil {
		d.RetryPolicy = vh.retry
	}
	if d.CORS == nil {
		d.CORS = vh.cors
	}
}

// addHeaderMutations records the header parsers in Envoy's evaluation order: route, vhost,
// route configuration (later wins), or the reverse with most_specific_header_mutations_wins
// (CI getHeaderParsers, finalizeRequestHeaders / finalizeResponseHeaders).
func (r *Router) addHeaderMutations(d *Decision, req Request, vh *virtualHost, rt *route) {
	type level struct {
		name      Level
		req, resp *headerOps
	}
	levels := []level{{LevelRoute, rt.reqHeaders, rt.respHeaders}, {LevelVirtualHost, vh.reqHeaders, vh.respHeaders},
		{LevelRouteConfiguration, r.reqHeaders, r.respHeaders}}
	if r.mostSpecificWins {
		levels[0], levels[2] = levels[2], levels[0]
	}
	for _, l := range levels {
		if l.req != nil {
			m := l.req.evaluate(l.name, req)
			d.RequestHeaderMutations = append(d.RequestHeaderMutations, m)
			d.RequestHeadersToRemove = append(d.RequestHeadersToRemove, m.Remove...)
			d.RequestHeadersToAdd = append(d.RequestHeadersToAdd, m.Add...)
		}
		if l.resp != nil {
			m := l.resp.evaluate(l.name, req)
			d.ResponseHeaderMutations = append(d.ResponseHeaderMutations, m)
			d.ResponseHeadersToRemove = append(d.ResponseHeadersToRemove, m.Remove...)
			d.ResponseHeadersToAdd = append(d.ResponseHeadersToAdd, m.Add...)
		}
	}
}

// mergePerFilter merges typed_per_filter_config, the most specific level winning per filter name
// (CI mostSpecificPerFilterConfig: route, then virtual host, then route configuration).
func mergePerFilter(levels ...map[string]*anypb.Any) map[string]*anypb.Any {
	var out map[string]*anypb.Any
	for _, l := range levels {
		for k, v := range l {
			if out == nil {
				out = map[string]*anypb.Any{}
			}
			out[k] = v
		}
	}
	return out
}

func firstNonEmpty(lists ...[]Mirror) []Mirror {
	for _, l := range lists {
		if len(l) > 0 {
			return append([]Mirror(nil), l...)
		}
	}
	return nil
}
