package xds

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kfgate/kfgate/gateway/ir"
	"github.com/kfgate/kfgate/gateway/mapping"
)

// routeConfiguration builds the listener's route table and its Digest: a hash over each virtual host's
// own encoding and its routes' digests. Each route is translated, validated, encoded and hashed once
// per IR route (cached on it); virtual hosts and the table are validated without re-walking routes.
func (t *Translator) routeConfiguration(name string, vhosts []*ir.VirtualHost, variant rcVariant) (*routev3.RouteConfiguration, Digest, error) {
	rc := &routev3.RouteConfiguration{Name: name, ResponseHeadersToAdd: variant.responseHeaders}
	if err := rc.ValidateAll(); err != nil {
		return nil, Digest{}, fmt.Errorf("route configuration %q: %w", name, err)
	}
	h := sha256.New()
	h.Write([]byte(name))
	if len(variant.responseHeaders) > 0 {
		own, err := deterministic.Marshal(rc)
		if err != nil {
			return nil, Digest{}, err
		}
		h.Write(own)
	}
	size := len(name) + 8
	for _, vh := range vhosts {
		v := &routev3.VirtualHost{
			Name: vh.Name, Domains: vh.Domains,
			RequestHeadersToAdd: headerOptions(vh.RequestHeadersToAdd), ResponseHeadersToAdd: headerOptions(vh.ResponseHeadersToAdd),
			RequestHeadersToRemove: vh.RequestHeadersToRemove, ResponseHeadersToRemove: vh.ResponseHeadersToRemove,
		}
		if err := v.ValidateAll(); err != nil {
			return nil, Digest{}, fmt.Errorf("virtual host %q: %w", vh.Name, err)
		}
		own, err := deterministic.Marshal(v)
		if err != nil {
			return nil, Digest{}, err
		}
		routes, sum, routesSize, err := t.routesOf(vh.Name, vh.Routes)
		if err != nil {
			return nil, Digest{}, err
		}
		fmt.Fprintf(h, "\x00vh%d\x00", len(own))
		h.Write(own)
		if len(variant.first) > 0 {
			all := make([]*routev3.Route, 0, len(variant.first)+len(routes))
			for _, f := range variant.first {
				all = append(all, f.route)
				h.Write(f.digest[:])
				routesSize += f.size
			}
			routes = append(all, routes...)
		}
		h.Write(sum[:])
		size += len(own) + routesSize + 8*len(routes) + 8
		v.Routes = routes
		rc.VirtualHosts = append(rc.VirtualHosts, v)
	}
	if len(t.vhosts) > len(vhosts) {
		t.forgetVirtualHostsBut(vhosts) // hosts come and go: keep memos only for the current ones
	}
	return rc, Digest{Version: hex.EncodeToString(h.Sum(nil)), Size: size}, nil
}

// digestLen is the length of a route digest (SHA-256).
const digestLen = sha256.Size

// translated is a route's translation, cached on its IR route.
type translated struct {
	route  *routev3.Route
	digest [digestLen]byte
	size   int
}

func translatedRoute(rt *ir.Route) (translated, error) {
	if tr, ok := rt.Translated.(translated); ok {
		return tr, nil
	}
	r, err := Route(rt)
	if err == nil {
		err = r.ValidateAll()
	}
	if err != nil {
		return translated{}, fmt.Errorf("route %q: %w", rt.Name, err)
	}
	b, err := deterministic.Marshal(r)
	if err != nil {
		return translated{}, fmt.Errorf("route %q: %w", rt.Name, err)
	}
	tr := translated{route: r, digest: sha256.Sum256(b), size: len(b)}
	rt.Translated = tr
	return tr, nil
}

// Route builds one Envoy route.
func Route(rt *ir.Route) (*routev3.Route, error) {
	r := &routev3.Route{
		Name:                    rt.Name,
		Match:                   routeMatch(rt),
		RequestHeadersToAdd:     headerOptions(rt.RequestHeadersToAdd),
		ResponseHeadersToAdd:    headerOptions(rt.ResponseHeadersToAdd),
		RequestHeadersToRemove:  rt.RequestHeadersToRemove,
		ResponseHeadersToRemove: rt.ResponseHeadersToRemove,
	}
	if rt.Redirect != nil {
		r.Action = &routev3.Route_Redirect{Redirect: redirect(rt.Redirect)}
	} else {
		r.Action = &routev3.Route_Route{Route: routeAction(rt)}
	}
	tpfc, err := perFilterConfig(rt)
	if err != nil {
		return nil, err
	}
	r.TypedPerFilterConfig = tpfc
	return r, nil
}

func routeMatch(rt *ir.Route) *routev3.RouteMatch {
	m := &routev3.RouteMatch{}
	switch mt := rt.Match; {
	case mt.Regex != "":
		m.PathSpecifier = &routev3.RouteMatch_SafeRegex{SafeRegex: regex(mt.Regex)}
	case mt.Path != "":
		m.PathSpecifier = &routev3.RouteMatch_Path{Path: mt.Path}
	default:
		m.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: mt.Prefix}
	}
	if !rt.Match.CaseSensitive {
		m.CaseSensitive = wrapperspb.Bool(false)
	}
	for _, h := range rt.Match.Headers {
		hm := &routev3.HeaderMatcher{Name: h.Name}
		if h.Present {
			hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}
		} else {
			hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_StringMatch{StringMatch: stringMatch(h)}
		}
		m.Headers = append(m.Headers, hm)
	}
	for _, q := range rt.Match.Query {
		qm := &routev3.QueryParameterMatcher{Name: q.Name}
		if q.Present {
			qm.QueryParameterMatchSpecifier = &routev3.QueryParameterMatcher_PresentMatch{PresentMatch: true}
		} else {
			qm.QueryParameterMatchSpecifier = &routev3.QueryParameterMatcher_StringMatch{StringMatch: stringMatch(q)}
		}
		m.QueryParameters = append(m.QueryParameters, qm)
	}
	if rt.RuntimeFraction > 0 {
		m.RuntimeFraction = &corev3.RuntimeFractionalPercent{DefaultValue: percent(rt.RuntimeFraction)}
	}
	return m
}

func stringMatch(k mapping.KeyMatch) *matcherv3.StringMatcher {
	if k.Regex {
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: regex(k.Value)}}
	}
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: k.Value}}
}

func regex(expr string) *matcherv3.RegexMatcher { return &matcherv3.RegexMatcher{Regex: expr} }

func percent(p uint32) *typev3.FractionalPercent {
	return &typev3.FractionalPercent{Numerator: p, Denominator: typev3.FractionalPercent_HUNDRED}
}

func routeAction(rt *ir.Route) *routev3.RouteAction {
	a := &routev3.RouteAction{Timeout: durationpb.New(rt.Timeout)}
	if len(rt.Clusters) == 1 {
		a.ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: rt.Clusters[0].Cluster}
	} else {
		wc := &routev3.WeightedCluster{}
		for _, c := range rt.Clusters {
			wc.Clusters = append(wc.Clusters, &routev3.WeightedCluster_ClusterWeight{Name: c.Cluster, Weight: wrapperspb.UInt32(c.Weight)})
		}
		a.ClusterSpecifier = &routev3.RouteAction_WeightedClusters{WeightedClusters: wc}
	}
	if rt.PrefixRewrite != nil {
		a.PrefixRewrite = *rt.PrefixRewrite
	}
	if rt.RegexRewrite != nil {
		a.RegexRewrite = &matcherv3.RegexMatchAndSubstitute{Pattern: regex(rt.RegexRewrite.Pattern), Substitution: rt.RegexRewrite.Substitution}
	}
	switch {
	case rt.HostRewrite != "":
		a.HostRewriteSpecifier = &routev3.RouteAction_HostRewriteLiteral{HostRewriteLiteral: rt.HostRewrite}
	case rt.AutoHostRewrite:
		a.HostRewriteSpecifier = &routev3.RouteAction_AutoHostRewrite{AutoHostRewrite: wrapperspb.Bool(true)}
	}
	if rt.IdleTimeout != nil {
		a.IdleTimeout = durationpb.New(*rt.IdleTimeout)
	}
	for _, u := range rt.Upgrades {
		a.UpgradeConfigs = append(a.UpgradeConfigs, &routev3.RouteAction_UpgradeConfig{UpgradeType: u})
	}
	if rt.Mirror != nil {
		a.RequestMirrorPolicies = []*routev3.RouteAction_RequestMirrorPolicy{{
			Cluster: rt.Mirror.Cluster, RuntimeFraction: &corev3.RuntimeFractionalPercent{DefaultValue: percent(rt.Mirror.Percent)},
		}}
	}
	a.RetryPolicy = retryPolicy(rt.RetryPolicy)
	a.HashPolicy = hashPolicy(rt.HashPolicy)
	if len(rt.RateLimits) > 0 {
		a.RateLimits = rateLimits(rt.RateLimits)
	}
	return a
}

func retryPolicy(p *mapping.RetryPolicy) *routev3.RetryPolicy {
	if p == nil {
		return nil
	}
	rp := &routev3.RetryPolicy{RetryOn: p.RetryOn}
	if p.NumRetries != nil {
		rp.NumRetries = wrapperspb.UInt32(uint32(*p.NumRetries))
	}
	if d, err := mapping.ParseDuration(p.PerTryTimeout); p.PerTryTimeout != "" && err == nil {
		rp.PerTryTimeout = durationpb.New(d)
	}
	return rp
}

func hashPolicy(lb *mapping.LoadBalancer) []*routev3.RouteAction_HashPolicy {
	if lb == nil {
		return nil
	}
	hp := &routev3.RouteAction_HashPolicy{}
	switch {
	case lb.Cookie != nil:
		c := &routev3.RouteAction_HashPolicy_Cookie{Name: lb.Cookie.Name, Path: lb.Cookie.Path}
		if d, err := mapping.ParseDuration(lb.Cookie.TTL); lb.Cookie.TTL != "" && err == nil {
			c.Ttl = durationpb.New(d)
		}
		hp.PolicySpecifier = &routev3.RouteAction_HashPolicy_Cookie_{Cookie: c}
	case lb.Header != "":
		hp.PolicySpecifier = &routev3.RouteAction_HashPolicy_Header_{Header: &routev3.RouteAction_HashPolicy_Header{HeaderName: lb.Header}}
	default:
		hp.PolicySpecifier = &routev3.RouteAction_HashPolicy_ConnectionProperties_{
			ConnectionProperties: &routev3.RouteAction_HashPolicy_ConnectionProperties{SourceIp: true}}
	}
	return []*routev3.RouteAction_HashPolicy{hp}
}

var redirectCodes = map[int]routev3.RedirectAction_RedirectResponseCode{
	301: routev3.RedirectAction_MOVED_PERMANENTLY, 302: routev3.RedirectAction_FOUND, 303: routev3.RedirectAction_SEE_OTHER,
	307: routev3.RedirectAction_TEMPORARY_REDIRECT, 308: routev3.RedirectAction_PERMANENT_REDIRECT,
}

func redirect(rd *ir.Redirect) *routev3.RedirectAction {
	a := &routev3.RedirectAction{HostRedirect: rd.Host, PortRedirect: rd.Port, ResponseCode: redirectCodes[rd.Code]}
	if rd.Scheme != "" {
		a.SchemeRewriteSpecifier = &routev3.RedirectAction_SchemeRedirect{SchemeRedirect: rd.Scheme}
	}
	switch {
	case rd.Path != "":
		a.PathRewriteSpecifier = &routev3.RedirectAction_PathRedirect{PathRedirect: rd.Path}
	case rd.Prefix != "":
		a.PathRewriteSpecifier = &routev3.RedirectAction_PrefixRewrite{PrefixRewrite: rd.Prefix}
	case rd.Regex != nil:
		a.PathRewriteSpecifier = &routev3.RedirectAction_RegexRewrite{RegexRewrite: &matcherv3.RegexMatchAndSubstitute{
			Pattern: regex(rd.Regex.Pattern), Substitution: rd.Regex.Substitution}}
	}
	return a
}

// headerOptions: append true adds another value; false overwrites (Envoy's append_action).
func headerOptions(hs []mapping.HeaderValue) []*corev3.HeaderValueOption {
	var out []*corev3.HeaderValueOption
	for _, h := range hs {
		action := corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
		if !h.Append {
			action = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
		}
		out = append(out, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: h.Name, Value: h.Value}, AppendAction: action, KeepEmptyValue: h.Value == ""})
	}
	return out
}

func perFilterConfig(rt *ir.Route) (map[string]*anypb.Any, error) {
	out := map[string]*anypb.Any{}
	if rt.Auth != nil {
		a, err := toAny(extAuthzPerRoute(rt.Auth))
		if err != nil {
			return nil, err
		}
		out[FilterExtAuthz] = a
	}
	if rt.CORS != nil {
		a, err := toAny(corsPolicy(rt.CORS))
		if err != nil {
			return nil, err
		}
		out[FilterCORS] = a
	}
	if rt.LocalRateLimit != nil {
		a, err := toAny(localRateLimitPerRoute(rt.LocalRateLimit))
		if err != nil {
			return nil, err
		}
		out[FilterLocalRateLimit] = a
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func corsPolicy(c *mapping.CORS) *corsv3.CorsPolicy {
	p := &corsv3.CorsPolicy{
		AllowMethods:  join(c.Methods),
		AllowHeaders:  join(c.Headers),
		ExposeHeaders: join(c.ExposedHeaders),
		MaxAge:        c.MaxAge,
	}
	if c.Credentials {
		p.AllowCredentials = wrapperspb.Bool(true)
	}
	origins := append([]string(nil), c.Origins...)
	sort.Strings(origins)
	for _, o := range origins {
		sm := &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: o}}
		if o == "*" {
			sm.MatchPattern = &matcherv3.StringMatcher_SafeRegex{SafeRegex: regex(".*")}
		}
		p.AllowOriginStringMatch = append(p.AllowOriginStringMatch, sm)
	}
	return p
}

func join(s []string) string {
	out := ""
	for i, e := range s {
		if i > 0 {
			out += ","
		}
		out += e
	}
	return out
}

// rcVariant is what one listener's route table adds to the shared virtual hosts: a first route in
// every virtual host (the cleartext listener's redirect to HTTPS) and table-wide response headers
// (the HTTPS listener's HSTS).
type rcVariant struct {
	first           []*translated
	responseHeaders []*corev3.HeaderValueOption
}

// key identifies a variant: what it adds, by content.
func (v rcVariant) key() string {
	k := ""
	for _, f := range v.first {
		k += hex.EncodeToString(f.digest[:])
	}
	for _, h := range v.responseHeaders {
		k += "\x00" + h.GetHeader().GetKey() + "=" + h.GetHeader().GetValue()
	}
	return k
}

// RedirectRouteName names the routes that send cleartext requests for TLS hosts to HTTPS.
const RedirectRouteName = "kfgate/https-redirect"

// httpsRedirectRoutes redirect requests for the TLS hosts to https:// (301, same host and path):
// per host, one route for the bare :authority and one with a port, compared case-insensitively
// (exact, or suffix for "*." hosts: any subdomain depth, like Envoy's server_names), so that no
// regex grows with the number of hosts. A request that already says x-forwarded-proto: https
// (a trusted load balancer terminated TLS) is not redirected: that would loop. The auth service is
// not asked: a login over cleartext is exactly what the redirect prevents.
func httpsRedirectRoutes(hosts []string, auth bool) ([]*translated, error) {
	var matchers [][]*routev3.HeaderMatcher
	for _, h := range hosts {
		switch {
		case h == ir.WildcardHost:
			matchers = append(matchers, nil)
		case strings.HasPrefix(h, "*."):
			matchers = append(matchers, []*routev3.HeaderMatcher{authority(suffix(h[1:]))},
				[]*routev3.HeaderMatcher{authority(contains(h[1:] + ":"))})
		default:
			matchers = append(matchers, []*routev3.HeaderMatcher{authority(exact(h))},
				[]*routev3.HeaderMatcher{authority(prefixOf(h + ":"))})
		}
	}
	out := make([]*translated, 0, len(matchers))
	for _, hm := range matchers {
		hm = append(hm, &routev3.HeaderMatcher{Name: "x-forwarded-proto", InvertMatch: true,
			HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: exact("https")}})
		r := &routev3.Route{
			Name:  RedirectRouteName,
			Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}, Headers: hm},
			Action: &routev3.Route_Redirect{Redirect: &routev3.RedirectAction{
				SchemeRewriteSpecifier: &routev3.RedirectAction_HttpsRedirect{HttpsRedirect: true}}},
		}
		if auth {
			a, err := toAny(extAuthzPerRoute(&ir.RouteAuth{Disabled: true}))
			if err != nil {
				return nil, err
			}
			r.TypedPerFilterConfig = map[string]*anypb.Any{FilterExtAuthz: a}
		}
		if err := r.ValidateAll(); err != nil {
			return nil, fmt.Errorf("redirect route: %w", err)
		}
		b, err := deterministic.Marshal(r)
		if err != nil {
			return nil, err
		}
		out = append(out, &translated{route: r, digest: sha256.Sum256(b), size: len(b)})
	}
	return out, nil
}

func authority(m *matcherv3.StringMatcher) *routev3.HeaderMatcher {
	m.IgnoreCase = true
	return &routev3.HeaderMatcher{Name: ":authority", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: m}}
}

func exact(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s}}
}

func prefixOf(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: s}}
}

func suffix(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: s}}
}

func contains(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Contains{Contains: s}}
}

// hstsHeader sets Strict-Transport-Security on every response, replacing an upstream's own.
func hstsHeader(value string) []*corev3.HeaderValueOption {
	return []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "strict-transport-security", Value: value},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD}}
}
