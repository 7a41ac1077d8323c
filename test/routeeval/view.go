package routeeval

import (
	"maps"
	"slices"
	"strings"
)

// view is the request as the route table sees it.
type view struct {
	req       Request
	matchPath string       // :path used for path matching
	stripped  []string     // internal_only_headers removed from an external request
	get       headerLookup // header lookup, pseudo-headers included
}

func (v *view) scheme() string {
	if v.req.Scheme == "" {
		return "http"
	}
	return v.req.Scheme
}

func (v *view) forwardedProto() string {
	if p, ok := v.req.Headers["x-forwarded-proto"]; ok {
		return p
	}
	return v.scheme()
}

// newView applies the route configuration's request pre-processing: internal_only_headers are
// removed from requests that are not Envoy-internal (x-envoy-internal: true), as the connection
// manager does before routing (conn_manager_utility.cc cleanInternalHeaders); with
// ignore_path_parameters_in_path_matching, the path is cut at ';' for matching
// (CI sanitizePathBeforePathMatching).
func (r *Router) newView(req Request) *view {
	req.Headers = lowerKeys(req.Headers)
	v := &view{req: req, matchPath: req.Path}
	if len(r.internalOnly) > 0 && req.Headers["x-envoy-internal"] != "true" {
		h := maps.Clone(req.Headers)
		for _, k := range r.internalOnly {
			if _, ok := h[k]; ok {
				delete(h, k)
				v.stripped = append(v.stripped, k)
			}
		}
		v.req.Headers = h
	}
	if r.ignorePathParams {
		if i := strings.IndexByte(v.matchPath, ';'); i >= 0 {
			v.matchPath = v.matchPath[:i]
		}
	}
	v.get = v.lookup
	return v
}

// lowerKeys returns h with ASCII-lower-cased names, as Envoy stores them; values of names that
// differ only in case are joined with "," in sorted name order. h is returned as-is when already
// lower-case.
func lowerKeys(h map[string]string) map[string]string {
	clean := true
	for k := range h {
		if asciiLower(k) != k {
			clean = false
			break
		}
	}
	if clean {
		return h
	}
	out := make(map[string]string, len(h))
	for _, k := range slices.Sorted(maps.Keys(h)) {
		lk := asciiLower(k)
		if old, ok := out[lk]; ok {
			out[lk] = old + "," + h[k]
		} else {
			out[lk] = h[k]
		}
	}
	return out
}

// lookup resolves a lower-case header name. Pseudo-headers come from the Request fields;
// x-forwarded-proto falls back to the scheme (the connection manager always sets it). "host" is not
// an alias of :authority: Envoy stores the Host header as :authority.
func (v *view) lookup(name string) (string, bool) {
	switch name {
	case ":authority":
		return v.req.Authority, v.req.Authority != ""
	case ":path":
		return v.req.Path, v.req.Path != ""
	case ":method":
		return v.req.Method, v.req.Method != ""
	case ":scheme":
		return v.scheme(), true
	case "x-forwarded-proto":
		return v.forwardedProto(), true
	}
	val, ok := v.req.Headers[name]
	return val, ok
}
