package authn

import (
	"net/http"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// responder turns outcomes into CheckResponses; it holds the header names from the configuration.
type responder struct {
	id        IdentityConfig
	pages     *pages
	protected identityHeaders
}

func newResponder(id IdentityConfig) *responder {
	names := []string{id.UserHeader, id.GroupsHeader}
	if id.ForwardIDToken && id.IDTokenHeader != "authorization" {
		names = append(names, id.IDTokenHeader)
	}
	return &responder{id: id, pages: newPages(), protected: newIdentityHeaders(names...)}
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
	h := cleanRequest(r, rs.protected, keep, owns)
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
	hs := []*corev3.HeaderValueOption{deniedHeader("cache-control", "no-store")}
	body := ""
	switch {
	case o.Kind == Redirect:
		hs = append(hs, deniedHeader("location", o.Location))
	case o.JSON != "":
		hs = append(hs, deniedHeader("content-type", "application/json"))
		body = o.JSON
	case o.Problem != nil:
		hs = append(hs, deniedHeader("content-type", "text/html; charset=utf-8"),
			deniedHeader("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'"),
			deniedHeader("x-content-type-options", "nosniff"), deniedHeader("x-frame-options", "DENY"))
		if r.Method != http.MethodHead {
			body = rs.pages.render(o.Status, *o.Problem)
		}
	}
	if o.Challenge != "" {
		hs = append(hs, deniedHeader("www-authenticate", o.Challenge))
	}
	for _, c := range o.Cookies {
		// Envoy removes a denied header's name once, then adds every entry: all Set-Cookie lines survive.
		hs = append(hs, deniedHeader("set-cookie", c.String()))
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

// header is an overwrite-or-add header. append is set to false explicitly: with it unset, Envoy
// 1.37.0 (and main since) follows append_action, whose default appends, so a client's own
// kubeflow-userid would reach the app next to kfgate's.
func header(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header: &corev3.HeaderValue{Key: k, Value: v},
		Append: wrapperspb.Bool(false), //nolint:staticcheck // the field every Envoy release honours
	}
}

// deniedHeader is a header of a denied (local) reply: there entries with append set are dropped
// (Envoy <= 1.37), and each named header is cleared once before every entry is added.
func deniedHeader(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v}}
}
