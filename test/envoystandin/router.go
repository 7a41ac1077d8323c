package envoystandin

import (
	"net/http"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/kfgate/kfgate/test/routeeval"
)

// routerFilter is the router (RO): local answers for no route, redirects and direct responses,
// else the request forwarded to the chosen cluster.
type routerFilter struct{}

func (f routerFilter) newInstance() filterInstance { return routerStream{} }

type routerStream struct{}

func (routerStream) encodeHeaders(*stream, *response) {}

func (routerStream) decodeHeaders(s *stream) *response {
	d := s.decision
	switch {
	case !d.Matched:
		return localReply(http.StatusNotFound, "", "NR")
	case d.Redirect != nil:
		resp := localReply(d.Redirect.Code, "", "")
		setHeader(resp.header, "location", d.Redirect.Location)
		applyRouteResponse(resp.header, d)
		return resp
	case d.DirectResponse != nil:
		dr := d.DirectResponse
		resp := localReply(dr.Status, dr.Body, "")
		if dr.Status == http.StatusCreated || dr.Status/100 == 3 {
			setHeader(resp.header, "location", dr.URI)
		}
		applyRouteResponse(resp.header, d)
		return resp
	case d.Cluster == "":
		return localReply(http.StatusNotFound, "", "NR") // cluster_header absent: no cluster
	}
	c := s.cfg.clusters[d.Cluster]
	if c == nil {
		return localReply(http.StatusServiceUnavailable, "", "NC") // cluster_not_found_response_code
	}
	return s.forward(c)
}

// applyRouteResponse applies the route's response header mutations, level by level, the way
// routeeval's ApplyResponse does, but onto a header map that keeps repeated lines apart (an added
// value is another header line, as Envoy's response header map holds it).
func applyRouteResponse(h headerMap, d routeeval.Decision) {
	for _, m := range d.ResponseHeaderMutations {
		for _, k := range m.Remove {
			delete(h, k)
		}
		before := map[string]bool{}
		for k := range h {
			before[k] = true
		}
		var overwrite, add []routeeval.Header
		for _, a := range m.Add {
			if a.Value == "" && !a.KeepEmptyValue {
				continue
			}
			switch a.AppendAction {
			case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
				add = append(add, a)
			case corev3.HeaderValueOption_ADD_IF_ABSENT:
				if !before[a.Key] {
					add = append(add, a)
				}
			case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
				if before[a.Key] {
					overwrite = append(overwrite, a)
				}
			default:
				overwrite = append(overwrite, a)
			}
		}
		for _, a := range overwrite {
			h[a.Key] = []string{a.Value}
		}
		for _, a := range add {
			h[a.Key] = append(h[a.Key], a.Value)
		}
	}
}

// upstreamHeaders is the request the upstream gets (routeeval's FinalRequestHeaders: the route's
// mutations, rewrites, x-envoy-original-path), split into pseudo-headers and an http.Header.
func upstreamHeaders(final map[string]string) (method, path, authority string, h http.Header) {
	h = http.Header{}
	for k, v := range final {
		switch k {
		case ":method":
			method = v
		case ":path":
			path = v
		case ":authority":
			authority = v
		case ":scheme":
		default:
			if !strings.HasPrefix(k, ":") {
				h[http.CanonicalHeaderKey(k)] = []string{v}
			}
		}
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""} // Go would add its own; Envoy adds none
	}
	return method, path, authority, h
}
