package authn

import (
	"errors"
	"net"
	"net/http"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// Request is what kfgate reads from Envoy's CheckRequest.
type Request struct {
	Method string
	Scheme string
	Host   string
	// RawPath is Envoy's :path (after Envoy's normalisation, before any rewrite), query included.
	RawPath string
	// Path is RawPath without the query and fragment; Query is the query.
	Path, Query string
	// Headers as Envoy sends them: lower-case names, repeated headers joined with ",".
	Headers map[string]string
	Cookies []*http.Cookie
	// ClientIP is the downstream peer address Envoy saw.
	ClientIP string
	// Context holds the route's context extensions (namespace, service, mapping).
	Context map[string]string
}

// Header returns a request header by its lower-case name.
func (r *Request) Header(name string) string { return r.Headers[name] }

// Origin is the scheme and host the browser used.
func (r *Request) Origin() string { return r.Scheme + "://" + r.Host }

var errNoHTTP = errors.New("the CheckRequest has no HTTP request attributes")

// requestFrom reads a CheckRequest. It never fails on odd values: those are judged later.
func requestFrom(c *authv3.CheckRequest) (*Request, error) {
	h := c.GetAttributes().GetRequest().GetHttp()
	if h == nil {
		return nil, errNoHTTP
	}
	r := &Request{
		Method:  strings.ToUpper(h.GetMethod()),
		Scheme:  strings.ToLower(h.GetScheme()),
		Host:    strings.ToLower(h.GetHost()),
		RawPath: h.GetPath(),
		Headers: h.GetHeaders(),
		Context: c.GetAttributes().GetContextExtensions(),
	}
	if r.Headers == nil {
		r.Headers = map[string]string{}
	}
	if r.Scheme == "" {
		r.Scheme = strings.ToLower(r.Headers[":scheme"])
	}
	// Behind a TLS-terminating load balancer Envoy's :scheme is http; x-forwarded-proto (which
	// Envoy resets at the edge unless it trusts the hop) says what the browser used.
	if strings.EqualFold(r.Headers["x-forwarded-proto"], "https") {
		r.Scheme = "https"
	}
	if r.Host == "" {
		r.Host = strings.ToLower(r.Headers[":authority"])
	}
	if r.RawPath == "" {
		r.RawPath = r.Headers[":path"]
	}
	r.Path, r.Query = splitPath(r.RawPath)
	r.Cookies = requestCookies(r.Headers["cookie"])
	r.ClientIP = peerIP(c.GetAttributes().GetSource().GetAddress())
	return r, nil
}

func peerIP(a *corev3.Address) string {
	if sa := a.GetSocketAddress(); sa != nil {
		if ip := net.ParseIP(sa.GetAddress()); ip != nil {
			return ip.String()
		}
	}
	return ""
}
