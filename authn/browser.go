package authn

import (
	"mime"
	"strconv"
	"strings"
)

// browserNavigation reports whether a request that has no valid session should get a login
// redirect. Everything else gets a 401: scripts and SDKs cannot follow a redirect to a login page
// (oauth2-proxy #1393, envoy #30102), and a redirect loop is worse than an honest error.
func browserNavigation(r *Request, apiPrefixes []string) bool {
	if r.Method != "GET" && r.Method != "HEAD" {
		return false
	}
	if strings.EqualFold(r.Header("x-requested-with"), "XMLHttpRequest") {
		return false
	}
	if strings.HasPrefix(r.Header("content-type"), "application/grpc") {
		return false
	}
	for _, p := range apiPrefixes {
		if strings.HasPrefix(r.Path, p) || r.Path+"/" == p {
			return false
		}
	}
	return prefersHTML(r.Header("accept"))
}

// prefersHTML reports whether an Accept header ranks text/html (or XHTML) at least as high as any
// other explicitly named type. "*/*" alone (curl, most SDKs) does not count.
func prefersHTML(accept string) bool {
	best, html := 0.0, 0.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(s, 64); err == nil && v >= 0 && v <= 1 {
				q = v
			}
		}
		switch mt {
		case "text/html", "application/xhtml+xml":
			html = max(html, q)
		case "*/*":
		default:
			best = max(best, q)
		}
	}
	return html > 0 && html >= best
}
