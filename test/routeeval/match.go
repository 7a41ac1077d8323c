package routeeval

import (
	"fmt"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

type pathKind int

const (
	pathPrefix pathKind = iota
	pathExact
	pathRegex
	pathSeparatedPrefix
)

// pathMatcher is the route's path specifier (CI: PrefixRouteEntryImpl, PathRouteEntryImpl,
// RegexRouteEntryImpl, PathSeparatedPrefixRouteEntryImpl).
type pathMatcher struct {
	kind       pathKind
	value      string
	ignoreCase bool // case_sensitive: false; never applies to safe_regex (RC RouteMatch.case_sensitive)
	re         *fullRegex
}

// routeMatch is a compiled RouteMatch: all criteria are ANDed (CI RouteEntryImplBase::matchRoute).
type routeMatch struct {
	path       pathMatcher
	runtime    *typev3.FractionalPercent // runtime_fraction default_value; nil when unset
	runtimeKey string                    // runtime_fraction runtime_key
	grpc       bool
	headers    []headerMatcher
	query      []queryMatcher
}

func compileRouteMatch(m *routev3.RouteMatch, path string) (routeMatch, error) {
	var rm routeMatch
	var err error
	if rm.path, err = compilePathMatcher(m, path); err != nil {
		return rm, err
	}
	if m.GetRuntimeFraction() != nil {
		rm.runtime = m.GetRuntimeFraction().GetDefaultValue()
		if rm.runtime == nil { // RC: default_value is required (validate.rules)
			return rm, fmt.Errorf("routeeval: %s.runtime_fraction: default_value is required", path)
		}
		rm.runtimeKey = m.GetRuntimeFraction().GetRuntimeKey()
	}
	rm.grpc = m.GetGrpc() != nil
	if rm.headers, err = compileHeaderMatchers(m.GetHeaders(), path+".headers"); err != nil {
		return rm, err
	}
	for i, q := range m.GetQueryParameters() {
		qm, err := compileQueryMatcher(q, fmt.Sprintf("%s.query_parameters[%d]", path, i))
		if err != nil {
			return rm, err
		}
		rm.query = append(rm.query, qm)
	}
	return rm, nil
}

func compilePathMatcher(m *routev3.RouteMatch, path string) (pathMatcher, error) {
	// case_sensitive defaults to true (CI: PROTOBUF_GET_WRAPPED_OR_DEFAULT(..., case_sensitive, true)).
	pm := pathMatcher{ignoreCase: m.GetCaseSensitive() != nil && !m.GetCaseSensitive().GetValue()}
	switch p := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		pm.kind, pm.value = pathPrefix, p.Prefix
	case *routev3.RouteMatch_Path:
		pm.kind, pm.value = pathExact, p.Path
	case *routev3.RouteMatch_PathSeparatedPrefix:
		pm.kind, pm.value = pathSeparatedPrefix, p.PathSeparatedPrefix
	case *routev3.RouteMatch_SafeRegex:
		re, err := compileRegex(p.SafeRegex, path+".safe_regex")
		if err != nil {
			return pm, err
		}
		pm.kind, pm.re, pm.ignoreCase = pathRegex, re, false
	default:
		return pm, fmt.Errorf("routeeval: %s: no path specifier", path)
	}
	return pm, nil
}

// stripQuery is Http::PathUtil::removeQueryAndFragment: the path up to the first '?' or '#'.
func stripQuery(path string) string {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		return path[:i]
	}
	return path
}

// match reports whether the path matches and, if so, the length of the matched part used by
// prefix_rewrite: the configured prefix/path for prefix, path and path_separated_prefix routes,
// the whole path without query for regex routes (CI rewritePathHeader / currentUrlPathAfterRewrite).
// Matching ignores the query and fragment (matchers.cc PathMatcher::match).
func (p pathMatcher) match(path string) (int, bool) {
	just := stripQuery(path)
	switch p.kind {
	case pathRegex:
		return len(just), p.re.match(just)
	case pathExact:
		return len(p.value), p.equalFold(just, p.value)
	case pathPrefix:
		return len(p.value), len(just) >= len(p.value) && p.equalFold(just[:len(p.value)], p.value)
	default:
		// path_separated_prefix: the prefix followed by end of path or '/'
		// (CI PathSeparatedPrefixRouteEntryImpl::matches).
		n := len(p.value)
		ok := len(just) >= n && p.equalFold(just[:n], p.value) && (len(just) == n || just[n] == '/')
		return n, ok
	}
}

func (p pathMatcher) equalFold(a, b string) bool {
	if p.ignoreCase {
		return asciiLower(a) == asciiLower(b)
	}
	return a == b
}

// fractionDenominator is ProtobufPercentHelper::fractionalPercentDenominatorToInt.
func fractionDenominator(d typev3.FractionalPercent_DenominatorType) uint64 {
	switch d {
	case typev3.FractionalPercent_TEN_THOUSAND:
		return 10000
	case typev3.FractionalPercent_MILLION:
		return 1000000
	default:
		return 100
	}
}

// isGrpc is Grpc::Common::isGrpcRequestHeaders: content-type "application/grpc" exactly or
// followed by '+' (so application/grpc-web is not gRPC).
func isGrpc(get headerLookup) bool {
	ct, _ := get("content-type")
	const g = "application/grpc"
	return strings.HasPrefix(ct, g) && (len(ct) == len(g) || ct[len(g)] == '+')
}

// matches evaluates the criteria in Envoy's order: runtime, gRPC, headers, query parameters
// (CI RouteEntryImplBase::matchRoute), then the path. runtime_fraction asks the request's Runtime
// (Snapshot::featureEnabled), an empty runtime when it has none.
func (m routeMatch) matches(v *view) (int, bool) {
	if m.runtime != nil && !runtimeOf(&v.req).FeatureEnabled(m.runtimeKey, m.runtime, v.req.Random) {
		return 0, false
	}
	if m.grpc && !isGrpc(v.get) {
		return 0, false
	}
	if !matchAllHeaders(m.headers, v.get) {
		return 0, false
	}
	if len(m.query) > 0 {
		params := parseQuery(v.req.Path)
		for _, q := range m.query {
			if !q.match(params) {
				return 0, false
			}
		}
	}
	return m.path.match(v.matchPath)
}
