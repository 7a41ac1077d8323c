package mapping

import (
	"regexp"
	"slices"
	"strings"
)

// decodeModule reads a Module; its settings live under `config` (Emissary's shape). The Module
// named tls is Ambassador's legacy TLS Module: config.server is a TLSContext for every host.
func decodeModule(o *object, name string) *Module {
	m := &Module{RegexMaxSize: DefaultRegexMaxSize}
	c := o.child("config")
	if c == nil {
		if !o.r.failed {
			o.r.errorf(o.node, o.field("config"), "is required")
		}
		return m
	}
	if name == "tls" {
		m.TLSServer = decodeTLSModule(c)
		if cl := c.child("client"); cl != nil {
			if on, ok := cl.boolean("enabled"); !ok || on {
				c.r.report(c.keyNode("client"), SeverityError, ReasonUnsupported, c.field("client"),
					"client certificate validation is not implemented (set enabled: false or remove it)")
			}
			cl.ignoreRest()
		}
		c.finish(nil)
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
	m.AccessLog = decodeAccessLog(c)
	m.PreserveExternalRequestID, _ = c.boolean("preserve_external_request_id")
	if v, ok := c.str("strict_transport_security"); ok {
		if !hstsValue.MatchString(v) {
			c.r.errorf(c.value("strict_transport_security"), c.field("strict_transport_security"),
				"%q is not a Strict-Transport-Security value (max-age=<seconds>[; includeSubDomains][; preload])", v)
		}
		m.StrictTransportSecurity = v
	}
	c.finish(unsupportedFields[KindModule])
	return m
}

var hstsValue = regexp.MustCompile(`(?i)^max-age=[0-9]{1,10}(\s*;\s*(includeSubDomains|preload))*$`)

// decodeTLSModule reads the legacy tls Module's server block; enabled: false turns it off.
func decodeTLSModule(c *object) *TLSContext {
	s := c.child("server")
	if s == nil {
		if !c.r.failed {
			c.r.errorf(c.node, c.field("server"), "is required in the tls Module (or write a TLSContext)")
		}
		return nil
	}
	defer s.finish(unsupportedTLSFields)
	if on, ok := s.boolean("enabled"); ok && !on {
		s.ignoreRest() // disabled: the rest is not read, nor reported as unknown
		return nil
	}
	return decodeTLSContext(s, []string{"*"})
}

// decodeAccessLog reads envoy_log_type (json, the default, or text), envoy_log_format and
// envoy_log_path (default /dev/stdout).
func decodeAccessLog(c *object) *AccessLog {
	if !c.has("envoy_log_type") && !c.has("envoy_log_format") && !c.has("envoy_log_path") {
		return nil
	}
	a := &AccessLog{Type: "json", Path: "/dev/stdout"}
	if t, ok := c.str("envoy_log_type"); ok {
		if a.Type = strings.ToLower(t); a.Type != "json" && a.Type != "text" {
			c.r.errorf(c.value("envoy_log_type"), c.field("envoy_log_type"), "must be json or text, got %q", t)
		}
	}
	if v := c.get("envoy_log_format"); v != nil {
		if a.Type == "json" {
			a.JSONFormat = stringMap(c, "envoy_log_format")
			if len(a.JSONFormat) == 0 && !c.r.failed {
				c.r.errorf(v, c.field("envoy_log_format"), "must map at least one field name to a format string with envoy_log_type json")
			}
		} else if a.TextFormat, _ = c.str("envoy_log_format"); a.TextFormat == "" && !c.r.failed {
			c.r.errorf(v, c.field("envoy_log_format"), "must be a non-empty format string with envoy_log_type text")
		}
		for k, f := range a.JSONFormat {
			checkLogFormat(c, k, f)
		}
		checkLogFormat(c, "", a.TextFormat)
	}
	if p, ok := c.str("envoy_log_path"); ok {
		if !strings.HasPrefix(p, "/") || strings.Contains(p, "..") || strings.ContainsAny(p, "\x00\n") {
			c.r.errorf(c.value("envoy_log_path"), c.field("envoy_log_path"), "must be an absolute path without .., got %q", p)
		}
		a.Path = p
	}
	return a
}

// checkLogFormat rejects what Envoy's substitution formatter would refuse (and with it the
// listener): an unbalanced %, or a command it does not know.
func checkLogFormat(c *object, field, f string) {
	path := c.field("envoy_log_format")
	if field != "" {
		path += "." + field
	}
	rest := logCommand.ReplaceAllStringFunc(f, func(cmd string) string {
		m := logCommand.FindStringSubmatch(cmd)
		name, arg := m[1], m[2]
		switch {
		case m[0] == "%%":
		case !slices.Contains(logCommands, name) && !slices.Contains(logCommandsWithArg, name):
			c.r.errorf(c.value("envoy_log_format"), path, "%%%s%% is not an Envoy access log command", name)
		case slices.Contains(logCommandsWithArg, name) && arg == "":
			c.r.errorf(c.value("envoy_log_format"), path, "%%%s%% needs an argument: %%%s(...)%%", name, name)
		}
		return ""
	})
	if strings.Contains(rest, "%") {
		c.r.errorf(c.value("envoy_log_format"), path, "%q has a %% that starts no command: every command is %%NAME%% or %%NAME(arg)%%", f)
	}
}

// logCommand is one %COMMAND%, %COMMAND(arg)% or %COMMAND(arg):N% (or %% for a literal %).
var logCommand = regexp.MustCompile(`%%|%([A-Z][A-Z0-9_]*)(?:\(([^()%]*)\))?(?::[0-9]+)?%`)

// Envoy's access log commands (docs/root/configuration/observability/access_log/usage.rst).
var (
	logCommands = []string{"START_TIME", "START_TIME_LOCAL", "EMIT_TIME", "REQUEST_HEADERS_BYTES",
		"BYTES_RECEIVED", "BYTES_SENT", "PROTOCOL", "UPSTREAM_PROTOCOL", "RESPONSE_CODE", "RESPONSE_CODE_DETAILS",
		"CONNECTION_TERMINATION_DETAILS", "RESPONSE_HEADERS_BYTES", "RESPONSE_TRAILERS_BYTES", "DURATION",
		"REQUEST_DURATION", "REQUEST_TX_DURATION", "RESPONSE_DURATION", "RESPONSE_TX_DURATION",
		"DOWNSTREAM_HANDSHAKE_DURATION", "ROUNDTRIP_DURATION", "RESPONSE_FLAGS", "RESPONSE_FLAGS_LONG",
		"UPSTREAM_HOST", "UPSTREAM_HOST_NAME", "UPSTREAM_HOST_NAME_WITHOUT_PORT", "UPSTREAM_CLUSTER",
		"UPSTREAM_CLUSTER_RAW", "UPSTREAM_LOCAL_ADDRESS", "UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT",
		"UPSTREAM_LOCAL_PORT", "UPSTREAM_REMOTE_ADDRESS", "UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT",
		"UPSTREAM_REMOTE_PORT", "UPSTREAM_REQUEST_ATTEMPT_COUNT", "UPSTREAM_TRANSPORT_FAILURE_REASON",
		"UPSTREAM_CONNECTION_ID", "UPSTREAM_TLS_VERSION", "UPSTREAM_TLS_CIPHER", "UPSTREAM_TLS_SESSION_ID",
		"UPSTREAM_PEER_SUBJECT", "UPSTREAM_PEER_ISSUER", "UPSTREAM_PEER_URI_SAN", "UPSTREAM_PEER_DNS_SAN",
		"UPSTREAM_LOCAL_SUBJECT", "UPSTREAM_LOCAL_URI_SAN", "UPSTREAM_LOCAL_DNS_SAN",
		"DOWNSTREAM_REMOTE_ADDRESS", "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", "DOWNSTREAM_REMOTE_PORT",
		"DOWNSTREAM_DIRECT_REMOTE_ADDRESS", "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT",
		"DOWNSTREAM_DIRECT_REMOTE_PORT", "DOWNSTREAM_LOCAL_ADDRESS", "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT",
		"DOWNSTREAM_LOCAL_PORT", "DOWNSTREAM_DIRECT_LOCAL_ADDRESS", "DOWNSTREAM_DIRECT_LOCAL_ADDRESS_WITHOUT_PORT",
		"DOWNSTREAM_DIRECT_LOCAL_PORT", "DOWNSTREAM_LOCAL_URI_SAN", "DOWNSTREAM_PEER_URI_SAN",
		"DOWNSTREAM_LOCAL_DNS_SAN", "DOWNSTREAM_PEER_DNS_SAN", "DOWNSTREAM_LOCAL_SUBJECT", "DOWNSTREAM_PEER_SUBJECT",
		"DOWNSTREAM_PEER_ISSUER", "DOWNSTREAM_TLS_SESSION_ID", "DOWNSTREAM_TLS_CIPHER", "DOWNSTREAM_TLS_VERSION",
		"DOWNSTREAM_PEER_FINGERPRINT_256", "DOWNSTREAM_PEER_FINGERPRINT_1", "DOWNSTREAM_PEER_SERIAL",
		"DOWNSTREAM_PEER_CERT", "DOWNSTREAM_PEER_CERT_V_START", "DOWNSTREAM_PEER_CERT_V_END",
		"DOWNSTREAM_TRANSPORT_FAILURE_REASON", "CONNECTION_ID", "STREAM_ID", "UNIQUE_ID", "ROUTE_NAME",
		"VIRTUAL_CLUSTER_NAME", "REQUESTED_SERVER_NAME", "HOSTNAME", "LOCAL_REPLY_BODY", "ACCESS_LOG_TYPE",
		"GRPC_STATUS", "GRPC_STATUS_NUMBER", "UPSTREAM_FILTER_STATE", "TRACE_ID", "CUSTOM_FLAGS"}
	// The commands that need an argument (START_TIME's format is optional: it is above).
	logCommandsWithArg = []string{"REQ", "RESP", "TRAILER", "REQ_WITHOUT_QUERY",
		"DYNAMIC_METADATA", "CLUSTER_METADATA", "UPSTREAM_METADATA", "FILTER_STATE", "ENVIRONMENT",
		"COMMON_DURATION", "PATH", "QUERY_PARAM"}
)

// decodeAuthService reads an AuthService; only gRPC (Envoy ext_authz v3) is supported.
func decodeAuthService(o *object, namespace string) *AuthService {
	a := &AuthService{TimeoutMs: 5000, StatusOnError: 403}
	if raw, ok := o.str("auth_service"); ok {
		ref, err := ParseService(raw, namespace)
		if err != nil {
			o.r.errorf(o.value("auth_service"), o.field("auth_service"), "%q: %v", raw, err)
		}
		a.Service = ref
	} else if !o.r.failed {
		o.r.errorf(o.node, o.field("auth_service"), "is required")
	}
	if proto, ok := o.str("proto"); ok && proto != "grpc" {
		o.r.errorf(o.value("proto"), o.field("proto"), "only \"grpc\" is supported (kfgate's authn speaks Envoy's ext_authz gRPC API), got %q", proto)
	} else if !ok && !o.r.failed {
		o.r.report(o.node, SeverityInfo, ReasonIgnored, o.field("proto"), "not set; using grpc (Emissary defaults to http, which kfgate does not support)")
	}
	// Emissary's ext_authz transport switch: kfgate always speaks v3, which "v2" services cannot answer.
	if pv, ok := o.str("protocol_version"); ok && pv != "v3" {
		o.r.errorf(o.value("protocol_version"), o.field("protocol_version"), "only v3 is supported (Envoy dropped the v2 ext_authz API), got %q", pv)
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
		o.r.report(o.value("failure_mode_allow"), SeverityWarning, ReasonInvalid, o.field("failure_mode_allow"),
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
