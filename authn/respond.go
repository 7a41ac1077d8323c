package authn

import (
	"net/http"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
)

// responder turns outcomes into CheckResponses; it holds the header names from the configuration.
type responder struct {
	id    IdentityConfig
	pages *pages
}

// protected lists the identity header names clients must never supply.
func (rs *responder) protected() []string {
	p := []string{rs.id.UserHeader, rs.id.GroupsHeader}
	if rs.id.ForwardIDToken && rs.id.IDTokenHeader != "authorization" {
		p = append(p, rs.id.IDTokenHeader)
	}
	return p
}

// respond builds the CheckResponse for o. h is the request's hygiene (allowed requests only).
func (rs *responder) respond(r *Request, o Outcome, owns func(string) bool) *authv3.CheckResponse {
	if o.Kind == Allow {
		return rs.ok(r, o, owns)
	}
	return rs.denied(r, o)
}

func (rs *responder) ok(r *Request, o Outcome, owns func(string) bool) *authv3.CheckResponse {
	keep := map[string]bool{}
	var set []*corev3.HeaderValueOption
	if id := o.Identity; id != nil {
		set = append(set, header(rs.id.UserHeader, id.User))
		keep[rs.id.UserHeader] = true
		if len(id.Groups) > 0 {
			set = append(set, header(rs.id.GroupsHeader, strings.Join(id.Groups, ",")))
			keep[rs.id.GroupsHeader] = true
		}
		if rs.id.ForwardIDToken && id.IDToken != "" {
			set = append(set, header(rs.id.IDTokenHeader, "Bearer "+id.IDToken))
			keep[rs.id.IDTokenHeader] = true
		}
	}
	h := cleanRequest(r, rs.protected(), keep, owns)
	remove := h.remove
	if h.cookieChanged {
		if h.cookie == "" {
			remove = append(remove, "cookie")
		} else {
			set = append(set, header("cookie", h.cookie))
		}
	}
	ok := &authv3.OkHttpResponse{Headers: set, HeadersToRemove: remove}
	for _, c := range o.Cookies {
		// With append unset, append_action's default (APPEND_IF_EXISTS_OR_ADD) adds one Set-Cookie
		// line per cookie, next to any the app sets.
		ok.ResponseHeadersToAdd = append(ok.ResponseHeadersToAdd, &corev3.HeaderValueOption{
			Header: &corev3.HeaderValue{Key: "set-cookie", Value: c.String()},
		})
	}
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok},
	}
}

func (rs *responder) denied(r *Request, o Outcome) *authv3.CheckResponse {
	hs := []*corev3.HeaderValueOption{header("cache-control", "no-store")}
	body := ""
	switch {
	case o.Kind == Redirect:
		hs = append(hs, header("location", o.Location))
	case o.JSON != "":
		hs = append(hs, header("content-type", "application/json"))
		body = o.JSON
	case o.Problem != nil:
		hs = append(hs, header("content-type", "text/html; charset=utf-8"),
			header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'"),
			header("x-content-type-options", "nosniff"), header("x-frame-options", "DENY"))
		if r.Method != http.MethodHead {
			body = rs.pages.render(o.Status, *o.Problem)
		}
	}
	if o.Challenge != "" {
		hs = append(hs, header("www-authenticate", o.Challenge))
	}
	for _, c := range o.Cookies {
		// Envoy removes a denied header's name once, then adds every entry: all Set-Cookie lines survive.
		hs = append(hs, header("set-cookie", c.String()))
	}
	code := codes.PermissionDenied
	if o.Status == http.StatusUnauthorized {
		code = codes.Unauthenticated
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode(o.Status)}, Headers: hs, Body: body,
		}},
	}
}

// header is a set (overwrite-or-add) header: append unset is what Envoy's ext_authz treats as
// overwrite for request headers in every release.
func header(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v}}
}
