package mapping

// decodeModule reads a Module; its settings live under `config` (Emissary's shape).
func decodeModule(o *object) *Module {
	m := &Module{RegexMaxSize: DefaultRegexMaxSize}
	c := o.child("config")
	if c == nil {
		if !o.r.failed {
			o.r.errorf(o.node, "config", "is required")
		}
		return m
	}
	m.ClusterRequestTimeoutMs = optionalMs(c, "cluster_request_timeout_ms")
	if n, ok := c.integer("regex_max_size", 1, 1<<20); ok {
		m.RegexMaxSize = int(n)
	}
	m.CORS = decodeCORS(c.child("cors"))
	m.RetryPolicy = decodeRetry(c.child("retry_policy"))
	m.CircuitBreakers = decodeCircuitBreakers(c, "circuit_breakers")
	decodeHeaders(c, &m.AddRequestHeaders, &m.AddResponseHeaders, &m.RemoveRequestHeaders, &m.RemoveResponseHeaders)
	if b, ok := c.boolean("use_remote_address"); ok {
		m.UseRemoteAddress = &b
	}
	m.XFFNumTrustedHops, _ = c.integer("xff_num_trusted_hops", 0, 16)
	c.finish(unsupportedFields[KindModule])
	return m
}

// decodeAuthService reads an AuthService; only gRPC (Envoy ext_authz v3) is supported.
func decodeAuthService(o *object, namespace string) *AuthService {
	a := &AuthService{TimeoutMs: 5000, StatusOnError: 403}
	if raw, ok := o.str("auth_service"); ok {
		ref, err := ParseService(raw, namespace)
		if err != nil {
			o.r.errorf(o.value("auth_service"), "auth_service", "%q: %v", raw, err)
		}
		a.Service = ref
	} else if !o.r.failed {
		o.r.errorf(o.node, "auth_service", "is required")
	}
	if proto, ok := o.str("proto"); ok && proto != "grpc" {
		o.r.errorf(o.value("proto"), "proto", "only \"grpc\" is supported (kfgate's authn speaks Envoy's ext_authz gRPC API), got %q", proto)
	} else if !ok && !o.r.failed {
		o.r.report(o.node, SeverityInfo, ReasonIgnored, "proto", "not set; using grpc (Emissary defaults to http, which kfgate does not support)")
	}
	// Emissary's ext_authz transport switch: kfgate always speaks v3, which "v2" services cannot answer.
	if pv, ok := o.str("protocol_version"); ok && pv != "v3" {
		o.r.errorf(o.value("protocol_version"), "protocol_version", "only v3 is supported (Envoy dropped the v2 ext_authz API), got %q", pv)
	}
	if n, ok := o.integer("timeout_ms", 1, maxMs); ok {
		a.TimeoutMs = n
	}
	if b := o.child("include_body"); b != nil {
		a.IncludeBody = &IncludeBody{MaxBytes: 4096}
		if n, ok := b.integer("max_bytes", 1, 1<<30); ok {
			a.IncludeBody.MaxBytes = n
		}
		a.IncludeBody.AllowPartial, _ = b.boolean("allow_partial")
		b.finish(nil)
	}
	a.AllowedRequestHeaders = headerList(o, "allowed_request_headers")
	a.AllowedAuthorizationHeaders = headerList(o, "allowed_authorization_headers")
	a.FailureModeAllow, _ = o.boolean("failure_mode_allow")
	if a.FailureModeAllow {
		// Allowed as Emissary allows it, but said out loud: the auth service's header hygiene is skipped too.
		o.r.report(o.value("failure_mode_allow"), SeverityWarning, ReasonInvalid, "failure_mode_allow",
			"true lets every request through unauthenticated when the auth service fails or is slow, with any identity headers (kubeflow-userid) the client sent")
	}
	if s := o.child("status_on_error"); s != nil {
		if code, ok := s.integer("code", 100, 599); ok {
			a.StatusOnError = int(code)
		}
		s.finish(nil)
	}
	return a
}
