package routeeval

import (
	"maps"
	"strings"
)

// Apply returns the request the upstream receives for a forwarded decision, following
// RouteEntryImplBase::finalizeRequestHeaders (CI): internal-only headers stripped, the header
// mutations applied level by level, then the host rewrite (appending the old host to
// x-forwarded-host when append_x_forwarded_host is set), then the path rewrite, recording the
// original path in x-envoy-original-path (the router's default, suppress_envoy_headers: false).
// auto_host_rewrite cannot be evaluated (it depends on the chosen endpoint) and is not applied.
// For a redirect, direct response or no match nothing goes upstream and req is returned unchanged.
func (d Decision) Apply(req Request) Request {
	if !d.IsForward() {
		return req
	}
	out := req
	out.Headers = maps.Clone(lowerKeys(req.Headers))
	if out.Headers == nil {
		out.Headers = map[string]string{}
	}
	for _, k := range d.InternalOnlyStripped {
		delete(out.Headers, k)
	}
	for _, m := range d.RequestHeaderMutations {
		applyMutation(out.Headers, m)
	}
	if d.HostRewriteLiteral != "" {
		if d.AppendXForwardedHost && req.Authority != "" {
			appendForwardedHost(out.Headers, req.Authority)
		}
		out.Authority = d.HostRewriteLiteral
	}
	if d.PathRewritten {
		out.Headers["x-envoy-original-path"] = req.Path
		out.Path = d.Path
	}
	return out
}

// appendForwardedHost is Utility::updateAuthority with append_xfh_idempotent (UT): the old host is
// appended unless it is already the last x-forwarded-host entry.
func appendForwardedHost(h map[string]string, host string) {
	xfh, ok := h["x-forwarded-host"]
	if !ok || xfh == "" {
		h["x-forwarded-host"] = host
		return
	}
	parts := strings.Split(xfh, ",")
	if strings.TrimSpace(parts[len(parts)-1]) != host {
		h["x-forwarded-host"] = xfh + "," + host
	}
}

// HeaderMap returns all request headers, pseudo-headers (:authority, :path, :method, :scheme)
// included, plus x-forwarded-proto (the scheme, unless Headers sets it).
func (r Request) HeaderMap() map[string]string {
	r.Headers = lowerKeys(r.Headers)
	v := view{req: r}
	h := maps.Clone(r.Headers)
	if h == nil {
		h = map[string]string{}
	}
	for _, k := range []string{":authority", ":path", ":method", ":scheme", "x-forwarded-proto"} {
		if val, ok := v.lookup(k); ok {
			h[k] = val
		}
	}
	return h
}

// FinalRequestHeaders returns the headers the upstream sees for req under decision d:
// d.Apply(req).HeaderMap().
func FinalRequestHeaders(req Request, d Decision) map[string]string {
	return d.Apply(req).HeaderMap()
}

// ApplyResponse returns resp after the decision's response header mutations, applied level by
// level (CI finalizeResponseHeaders). resp is not modified.
func (d Decision) ApplyResponse(resp map[string]string) map[string]string {
	out := maps.Clone(resp)
	if out == nil {
		out = map[string]string{}
	}
	for _, m := range d.ResponseHeaderMutations {
		applyMutation(out, m)
	}
	return out
}
