package envoystandin

import (
	"fmt"
	"net/http"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/kfgate/kfgate/test/routeeval"
)

// extAuthz is a compiled ext_authz filter, gRPC mode (EC).
type extAuthz struct {
	name              string
	cluster           string
	timeout           time.Duration
	failureModeAllow  bool
	failureHeaderAdd  bool
	statusOnError     int
	withBody          bool
	maxBytes          int
	allowPartial      bool
	packAsBytes       bool
	allowed, disallow routeeval.StringMatchers // nil: unset
	clearRouteCache   bool
}

// authzPerRoute is an ExtAuthzPerRoute.
type authzPerRoute struct {
	disabled    bool
	extensions  map[string]string
	disableBody bool
}

func compileAuthzPerRoute(c *extauthzv3.ExtAuthzPerRoute) *authzPerRoute {
	return &authzPerRoute{disabled: c.GetDisabled(), extensions: c.GetCheckSettings().GetContextExtensions(),
		disableBody: c.GetCheckSettings().GetDisableRequestBodyBuffering()}
}

func (e *Envoy) compileExtAuthz(name string, c *extauthzv3.ExtAuthz, path string) (httpFilter, error) {
	g := c.GetGrpcService()
	if g.GetEnvoyGrpc() == nil {
		return nil, fmt.Errorf("%s: only grpc_service.envoy_grpc is implemented", path)
	}
	if c.GetTransportApiVersion() != corev3.ApiVersion_V3 {
		return nil, fmt.Errorf("%s: transport_api_version must be V3", path)
	}
	f := &extAuthz{name: name, cluster: g.GetEnvoyGrpc().GetClusterName(), timeout: 200 * time.Millisecond,
		failureModeAllow: c.GetFailureModeAllow(), failureHeaderAdd: c.GetFailureModeAllowHeaderAdd(),
		statusOnError: http.StatusForbidden, clearRouteCache: c.GetClearRouteCache()}
	if g.GetTimeout() != nil {
		f.timeout = g.GetTimeout().AsDuration()
	}
	if code := int(c.GetStatusOnError().GetCode()); code >= 200 && code <= 599 {
		f.statusOnError = code // an unset or out-of-range code is 403 (toErrorCode)
	}
	if b := c.GetWithRequestBody(); b != nil {
		f.withBody, f.maxBytes, f.allowPartial, f.packAsBytes = true, int(b.GetMaxRequestBytes()), b.GetAllowPartialMessage(), b.GetPackAsBytes()
	}
	var err error
	if c.GetAllowedHeaders() != nil {
		if f.allowed, err = routeeval.CompileStringMatchers(c.GetAllowedHeaders().GetPatterns(), path+".allowed_headers"); err != nil {
			return nil, err
		}
	}
	if c.GetDisallowedHeaders() != nil {
		if f.disallow, err = routeeval.CompileStringMatchers(c.GetDisallowedHeaders().GetPatterns(), path+".disallowed_headers"); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f *extAuthz) newInstance() filterInstance { return &authzStream{f: f} }

// authzStream is the filter on one stream; it keeps the OK response's downstream headers.
type authzStream struct {
	f          *extAuthz
	respHeader []mutation
}

// decodeHeaders checks the request unless it has no route or its route disables the filter
// (EC getPerRouteFlags: the most specific config decides).
func (a *authzStream) decodeHeaders(s *stream) *response {
	if !s.decision.Matched {
		return nil
	}
	per, _ := perFilterConfig[*authzPerRoute](s, a.f.name)
	if per != nil && per.disabled {
		return nil
	}
	var body []byte
	buffered := false
	if a.f.withBody && (per == nil || !per.disableBody) && s.r.ContentLength != 0 && s.upgradeType() != "websocket" {
		var full bool
		var err error
		if body, full, err = s.bufferBody(a.f.maxBytes); err != nil {
			return localReply(http.StatusBadRequest, "", "DPE")
		}
		if !full && !a.f.allowPartial {
			return localReply(http.StatusRequestEntityTooLarge, "Payload Too Large", "") // the decoder buffer limit
		}
		buffered = true
	}
	req := a.checkRequest(s, per, body, buffered)
	ctx, cancel := withTimeout(s.r.Context(), a.f.timeout)
	defer cancel()
	var resp *authv3.CheckResponse
	conn, err := s.grpcConn(ctx, a.f.cluster)
	if err == nil {
		resp, err = authv3.NewAuthorizationClient(conn).Check(ctx, req)
	}
	if err != nil {
		s.e.logf("envoystandin: ext_authz %s: %v", a.f.name, err)
		return a.onError(s, nil)
	}
	switch {
	case resp.GetStatus().GetCode() == 0:
		a.onOK(s, resp.GetOkResponse())
		return nil
	case resp.GetErrorResponse() != nil:
		return a.onError(s, resp.GetErrorResponse())
	default:
		return deniedReply(resp.GetDeniedResponse(), http.StatusForbidden)
	}
}

func (a *authzStream) encodeHeaders(_ *stream, resp *response) {
	applyMutations(resp.header, a.respHeader)
}

// onOK applies the OK response (EC onComplete): request header mutations in order, removals
// (never of pseudo-headers or host), downstream headers kept for encodeHeaders, query parameters;
// with clear_route_cache and any change, the route is resolved again.
func (a *authzStream) onOK(s *stream, ok *authv3.OkHttpResponse) {
	muts := mutationsOf(ok.GetHeaders(), false)
	changed := len(muts) > 0 || len(ok.GetHeadersToRemove()) > 0
	s.applyRequestMutations(muts)
	for _, k := range ok.GetHeadersToRemove() {
		if modifiable(k) {
			delete(s.req.headers, lower(k))
		}
	}
	a.respHeader = mutationsOf(ok.GetResponseHeadersToAdd(), true)
	if len(ok.GetQueryParametersToSet()) > 0 || len(ok.GetQueryParametersToRemove()) > 0 {
		s.req.path = rewriteQuery(s.req.path, ok.GetQueryParametersToSet(), ok.GetQueryParametersToRemove())
		changed = true
	}
	if changed && a.f.clearRouteCache {
		s.route()
	}
}

// onError is a failed check (transport error, timeout, unknown cluster, or an error_response):
// with failure_mode_allow the request continues, else the error_response or, without one,
// status_on_error with an empty body.
func (a *authzStream) onError(s *stream, er *authv3.DeniedHttpResponse) *response {
	if a.f.failureModeAllow {
		if a.f.failureHeaderAdd {
			s.applyRequestMutations([]mutation{{key: "x-envoy-auth-failure-mode-allowed", value: "true", action: mutAdd}})
		}
		return nil
	}
	return deniedReply(er, a.f.statusOnError)
}

// deniedReply is a denied (or error_response) local reply: d's status (defaultStatus when unset or
// out of range), body, and headers, each named header first cleared from the reply, then every
// entry applied (so Set-Cookie lines all survive). A nil d is defaultStatus with an empty body.
func deniedReply(d *authv3.DeniedHttpResponse, defaultStatus int) *response {
	code := defaultStatus
	if c := int(d.GetStatus().GetCode()); c >= 100 && c <= 599 {
		code = c
	}
	resp := localReply(code, d.GetBody(), "UAEX")
	muts := mutationsOf(d.GetHeaders(), true)
	for _, m := range muts {
		delete(resp.header, m.key)
	}
	applyMutations(resp.header, muts)
	return resp
}
