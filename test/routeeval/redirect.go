package routeeval

import (
	"fmt"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// redirectAction is Http::Utility::RedirectConfig as built by createRedirectConfig (CI).
type redirectAction struct {
	scheme        string
	https         bool
	host          string
	port          string // ":N" or ""
	path          string
	pathHasQuery  bool
	prefixRewrite string
	regexRewrite  *substitution
	stripQuery    bool
	code          int
}

func compileRedirect(r *routev3.RedirectAction, path string) (*redirectAction, error) {
	ra := &redirectAction{
		scheme:        r.GetSchemeRedirect(),
		https:         r.GetHttpsRedirect(),
		host:          r.GetHostRedirect(),
		path:          r.GetPathRedirect(),
		pathHasQuery:  strings.Contains(r.GetPathRedirect(), "?"),
		prefixRewrite: r.GetPrefixRewrite(),
		stripQuery:    r.GetStripQuery(),
		code:          redirectCode(r.GetResponseCode()),
	}
	if p := r.GetPortRedirect(); p != 0 {
		ra.port = ":" + strconv.FormatUint(uint64(p), 10)
	}
	if rr := r.GetRegexRewrite(); rr != nil {
		var err error
		if ra.regexRewrite, err = compileSubstitution(rr, path+".regex_rewrite"); err != nil {
			return nil, err
		}
	}
	return ra, nil
}

// redirectCode maps RedirectAction.RedirectResponseCode (RC) to its HTTP status
// (ConfigUtility::parseRedirectResponseCode).
func redirectCode(c routev3.RedirectAction_RedirectResponseCode) int {
	switch c {
	case routev3.RedirectAction_FOUND:
		return 302
	case routev3.RedirectAction_SEE_OTHER:
		return 303
	case routev3.RedirectAction_TEMPORARY_REDIRECT:
		return 307
	case routev3.RedirectAction_PERMANENT_REDIRECT:
		return 308
	default:
		return 301 // MOVED_PERMANENTLY
	}
}

// isPathRewriting is RouteEntryImplBase::isRedirect (CI): only a redirect that sets a host, path,
// prefix or regex rewrites the request :path before building the Location.
func (r *redirectAction) isPathRewriting() bool {
	return r.host != "" || r.path != "" || r.prefixRewrite != "" || r.regexRewrite != nil
}

// rewrittenPath is the :path after the redirect's prefix_rewrite / regex_rewrite
// (CI getPathRewrite + currentUrlPathAfterRewriteWithMatchedPath); a regex rewrite replaces the
// whole path without query. An empty rewrite result leaves the path alone.
func (r *redirectAction) rewrittenPath(path string, matchedLen int) string {
	if !r.isPathRewriting() {
		return path
	}
	just := stripQuery(path)
	if r.regexRewrite != nil {
		if rewritten := r.regexRewrite.replaceAll(just); rewritten != "" {
			return rewritten + path[len(just):]
		}
		return path
	}
	if r.prefixRewrite != "" {
		return r.prefixRewrite + path[matchedLen:]
	}
	return path
}

// location is Http::Utility::newUri (UT). r may be nil (plain direct responses).
func (r *redirectAction) location(v *view, path string) string {
	scheme := v.scheme()
	if r != nil && r.scheme != "" {
		scheme = r.scheme
	} else if r != nil && r.https {
		scheme = "https"
	}
	var port string
	if r != nil {
		port = r.port
	}
	host := processRequestHost(v.req.Authority, v.forwardedProto(), scheme, port)
	if r != nil && r.host != "" {
		host = r.host
	}
	if r != nil && r.path != "" {
		// The path_redirect's own query wins; otherwise the request query is kept.
		if r.pathHasQuery {
			path = r.path
		} else if i := strings.IndexByte(path, '?'); i >= 0 {
			path = r.path + path[i:]
		} else {
			path = r.path
		}
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if r != nil && !r.pathHasQuery && r.stripQuery {
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
	}
	return scheme + "://" + host + port + path
}

// processRequestHost (UT) keeps the request host, dropping its port when a port_redirect is set,
// or when the scheme changes and the port is the default one of the original x-forwarded-proto
// (:443 for https, :80 for http).
func processRequestHost(host, requestProto, newScheme, newPort string) string {
	if host == "" {
		return host
	}
	var end int
	if host[0] == '[' {
		end = strings.LastIndex(host, "]:")
		if end >= 0 {
			end++
		}
	} else {
		end = strings.LastIndexByte(host, ':')
	}
	if end < 0 {
		return host
	}
	port := host[end:]
	remove := newPort != ""
	if newScheme != requestProto {
		remove = remove || (strings.EqualFold(requestProto, "https") && port == ":443")
		remove = remove || (strings.EqualFold(requestProto, "http") && port == ":80")
	}
	if remove {
		return host[:end]
	}
	return host
}

// sslRedirectLocation is Http::Utility::createSslRedirectPath (UT), used for require_tls.
func sslRedirectLocation(v *view) string {
	return fmt.Sprintf("https://%s%s", v.req.Authority, v.req.Path)
}
