package routeeval

import (
	"fmt"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// defaultMaxDirectResponseBody is DEFAULT_MAX_DIRECT_RESPONSE_BODY_SIZE_BYTES (CI).
const defaultMaxDirectResponseBody = 4096

// Router is a compiled RouteConfiguration. It is immutable and safe for concurrent use. The protos a
// Decision records (retry and CORS policies, hash policies, rate limits, per-filter configs) are the
// configuration's own, not copies, so a caller can key what it compiles of them by pointer; neither
// the caller nor a Decision's user may modify them.
type Router struct {
	vhosts           vhostTable
	internalOnly     []string
	reqHeaders       *headerOps
	respHeaders      *headerOps
	mostSpecificWins bool
	ignorePort       bool
	ignorePathParams bool
	perFilter        map[string]*anypb.Any
	mirrors          []Mirror
}

type virtualHost struct {
	name        string
	requireTLS  routev3.VirtualHost_TlsRequirementType
	routes      []*route
	reqHeaders  *headerOps
	respHeaders *headerOps
	perFilter   map[string]*anypb.Any
	retry       *routev3.RetryPolicy
	cors        *routev3.CorsPolicy
	mirrors     []Mirror
	vclusters   []virtualCluster
}

// virtualCluster is a VirtualCluster: a name for request stats, chosen by headers (RC).
type virtualCluster struct {
	name    string
	headers []headerMatcher
}

type route struct {
	name        string
	match       routeMatch
	forward     *forwardAction
	redirect    *redirectAction
	direct      *DirectResponse
	reqHeaders  *headerOps
	respHeaders *headerOps
	perFilter   map[string]*anypb.Any
}

// Compile validates rc the way Envoy would (its proto constraints plus the checks of
// config_impl.cc that the evaluator models), rejects any field the evaluator does not model
// (strict.go), and precompiles every matcher and rewrite so Route does no compilation.
func Compile(rc *routev3.RouteConfiguration) (*Router, error) {
	if rc == nil {
		return nil, fmt.Errorf("routeeval: nil RouteConfiguration")
	}
	if err := checkStrict(rc.ProtoReflect(), ""); err != nil {
		return nil, err
	}
	if err := rc.ValidateAll(); err != nil {
		return nil, fmt.Errorf("routeeval: invalid RouteConfiguration: %w", err)
	}
	r := &Router{
		internalOnly:     lowerAll(rc.GetInternalOnlyHeaders()),
		mostSpecificWins: rc.GetMostSpecificHeaderMutationsWins(),
		ignorePort:       rc.GetIgnorePortInHostMatching(),
		ignorePathParams: rc.GetIgnorePathParametersInPathMatching(),
		perFilter:        rc.GetTypedPerFilterConfig(),
		mirrors:          compileMirrors(rc.GetRequestMirrorPolicies()),
	}
	var err error
	if r.reqHeaders, err = compileHeaderOps(rc.GetRequestHeadersToAdd(), rc.GetRequestHeadersToRemove(), "request"); err != nil {
		return nil, err
	}
	if r.respHeaders, err = compileHeaderOps(rc.GetResponseHeadersToAdd(), rc.GetResponseHeadersToRemove(), "response"); err != nil {
		return nil, err
	}
	maxBody := uint32(defaultMaxDirectResponseBody)
	if rc.GetMaxDirectResponseBodySizeBytes() != nil {
		maxBody = rc.GetMaxDirectResponseBodySizeBytes().GetValue()
	}
	for i, v := range rc.GetVirtualHosts() {
		path := fmt.Sprintf("virtual_hosts[%d]", i)
		vh, err := compileVirtualHost(v, path, maxBody)
		if err != nil {
			return nil, err
		}
		for _, d := range v.GetDomains() {
			if err := r.vhosts.add(d, vh); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

func compileVirtualHost(v *routev3.VirtualHost, path string, maxBody uint32) (*virtualHost, error) {
	vh := &virtualHost{
		name:       v.GetName(),
		requireTLS: v.GetRequireTls(),
		perFilter:  v.GetTypedPerFilterConfig(),
		retry:      v.GetRetryPolicy(),
		cors:       v.GetCors(),
		mirrors:    compileMirrors(v.GetRequestMirrorPolicies()),
	}
	var err error
	if vh.reqHeaders, err = compileHeaderOps(v.GetRequestHeadersToAdd(), v.GetRequestHeadersToRemove(), path+".request"); err != nil {
		return nil, err
	}
	if vh.respHeaders, err = compileHeaderOps(v.GetResponseHeadersToAdd(), v.GetResponseHeadersToRemove(), path+".response"); err != nil {
		return nil, err
	}
	for i, vc := range v.GetVirtualClusters() {
		p := fmt.Sprintf("%s.virtual_clusters[%d]", path, i)
		if vc.GetName() == "" { // RC: name is required (min_len 1)
			return nil, fmt.Errorf("routeeval: %s: name is required", p)
		}
		hs, err := compileHeaderMatchers(vc.GetHeaders(), p+".headers")
		if err != nil {
			return nil, err
		}
		vh.vclusters = append(vh.vclusters, virtualCluster{name: vc.GetName(), headers: hs})
	}
	for i, rt := range v.GetRoutes() {
		cr, err := compileRoute(rt, fmt.Sprintf("%s.routes[%d]", path, i), maxBody)
		if err != nil {
			return nil, err
		}
		vh.routes = append(vh.routes, cr)
	}
	return vh, nil
}

func compileRoute(rt *routev3.Route, path string, maxBody uint32) (*route, error) {
	cr := &route{name: rt.GetName(), perFilter: rt.GetTypedPerFilterConfig()}
	var err error
	if cr.match, err = compileRouteMatch(rt.GetMatch(), path+".match"); err != nil {
		return nil, err
	}
	if cr.reqHeaders, err = compileHeaderOps(rt.GetRequestHeadersToAdd(), rt.GetRequestHeadersToRemove(), path+".request"); err != nil {
		return nil, err
	}
	if cr.respHeaders, err = compileHeaderOps(rt.GetResponseHeadersToAdd(), rt.GetResponseHeadersToRemove(), path+".response"); err != nil {
		return nil, err
	}
	switch a := rt.GetAction().(type) {
	case *routev3.Route_Route:
		cr.forward, err = compileForward(a.Route, path+".route")
	case *routev3.Route_Redirect:
		cr.redirect, err = compileRedirect(a.Redirect, path+".redirect")
	case *routev3.Route_DirectResponse:
		cr.direct, err = compileDirect(a.DirectResponse, path+".direct_response", maxBody)
	default:
		err = fmt.Errorf("routeeval: %s: route has no action", path)
	}
	if err != nil {
		return nil, err
	}
	return cr, nil
}

// compileDirect reads an inline body; Envoy rejects bodies over max_direct_response_body_size_bytes
// (CI: DataSourceProvider with the route config's limit).
func compileDirect(d *routev3.DirectResponseAction, path string, maxBody uint32) (*DirectResponse, error) {
	body := d.GetBody().GetInlineString()
	if b := d.GetBody().GetInlineBytes(); b != nil {
		body = string(b)
	}
	if uint64(len(body)) > uint64(maxBody) {
		return nil, fmt.Errorf("routeeval: %s.body: %d bytes exceeds max_direct_response_body_size_bytes %d", path, len(body), maxBody)
	}
	return &DirectResponse{Status: int(d.GetStatus()), Body: body}, nil
}

// compileMirrors records request_mirror_policies; without runtime_fraction every request is
// mirrored (CI ShadowPolicyImpl: default 100/HUNDRED).
func compileMirrors(ps []*routev3.RouteAction_RequestMirrorPolicy) []Mirror {
	var out []Mirror
	for _, p := range ps {
		m := Mirror{Cluster: p.GetCluster(), Fraction: &typev3.FractionalPercent{Numerator: 100}}
		if f := p.GetRuntimeFraction(); f != nil {
			m.Fraction = f.GetDefaultValue()
		}
		out = append(out, m)
	}
	return out
}

func lowerAll(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		out = append(out, asciiLower(s))
	}
	return out
}
