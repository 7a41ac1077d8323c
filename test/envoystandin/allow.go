package envoystandin

import (
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// The allowlist: every field here is implemented (descend, opaque) or harmless here (inert, with
// the reason). Anything else in a resource makes the stand-in NACK it.
func init() {
	const (
		lst, core, hcm = "envoy.config.listener.v3.", "envoy.config.core.v3.", "envoy.extensions.filters.network.http_connection_manager.v3."
		tls, mat, typ  = "envoy.extensions.transport_sockets.tls.v3.", "envoy.type.matcher.v3.", "envoy.type.v3."
		cl, ep, flt    = "envoy.config.cluster.v3.", "envoy.config.endpoint.v3.", "envoy.extensions.filters.http."
		wk             = "google.protobuf."
	)
	allowAny(&hcmv3.HttpConnectionManager{}, &tlsinspectorv3.TlsInspector{}, &tlsv3.DownstreamTlsContext{},
		&tlsv3.UpstreamTlsContext{}, &extauthzv3.ExtAuthz{}, &extauthzv3.ExtAuthzPerRoute{}, &routerv3.Router{},
		&corsv3.Cors{}, &corsv3.CorsPolicy{}, &localratelimitv3.LocalRateLimit{},
		&streamv3.StdoutAccessLog{}, &filev3.FileAccessLog{}, &httpv3.HttpProtocolOptions{}, &accesslogv3.AccessLog{})

	// Listeners (listener.go, tls.go).
	allow(descend, lst+"Listener", "name", "address", "filter_chains", "default_filter_chain", "listener_filters")
	allow(descend, lst+"FilterChain", "filters", "filter_chain_match", "transport_socket")
	// A filter chain's name only identifies it (stats, in-place updates); matching ignores it.
	allow(inert, lst+"FilterChain", "name")
	allow(descend, lst+"FilterChainMatch", "server_names")
	allow(descend, lst+"Filter", "name", "typed_config")
	allow(descend, lst+"ListenerFilter", "name", "typed_config")
	allow(descend, core+"Address", "socket_address")
	allow(descend, core+"SocketAddress", "address", "port_value")
	allow(descend, core+"TransportSocket", "name", "typed_config")
	allow(descend, core+"ConfigSource", "ads", "resource_api_version")

	// The HTTP connection manager (hcm.go, path.go, forward.go).
	allow(descend, hcm+"HttpConnectionManager", "rds", "http_filters", "normalize_path", "merge_slashes",
		"path_with_escaped_slashes_action", "use_remote_address", "xff_num_trusted_hops", "skip_xff_append",
		"access_log", "preserve_external_request_id", "always_set_request_id_in_response", "generate_request_id",
		"upgrade_configs", "server_name")
	// Stats only.
	allow(inert, hcm+"HttpConnectionManager", "stat_prefix")
	allow(descend, hcm+"HttpConnectionManager.UpgradeConfig", "upgrade_type", "enabled")
	allow(descend, hcm+"Rds", "config_source", "route_config_name")
	allow(descend, hcm+"HttpFilter", "name", "typed_config")

	// HTTP filters (extauthz.go, authzcheck.go, localratelimit.go, cors.go). The global rate limit
	// filter (ratelimit.v3.RateLimit, a RateLimitService) is not implemented, so its type is refused.
	allow(descend, flt+"ext_authz.v3.ExtAuthz", "grpc_service", "transport_api_version", "failure_mode_allow",
		"failure_mode_allow_header_add", "status_on_error", "with_request_body", "allowed_headers",
		"disallowed_headers", "clear_route_cache")
	allow(inert, flt+"ext_authz.v3.ExtAuthz", "stat_prefix") // stats only
	allow(descend, flt+"ext_authz.v3.BufferSettings", "max_request_bytes", "allow_partial_message", "pack_as_bytes")
	allow(descend, flt+"ext_authz.v3.ExtAuthzPerRoute", "disabled", "check_settings")
	allow(descend, flt+"ext_authz.v3.CheckSettings", "context_extensions", "disable_request_body_buffering")
	allow(descend, core+"GrpcService", "envoy_grpc", "timeout")
	allow(descend, core+"GrpcService.EnvoyGrpc", "cluster_name")
	allow(descend, flt+"local_ratelimit.v3.LocalRateLimit", "token_bucket", "filter_enabled", "filter_enforced",
		"enable_x_ratelimit_headers", "status")
	allow(inert, flt+"local_ratelimit.v3.LocalRateLimit", "stat_prefix") // stats only
	allow(descend, typ+"TokenBucket", "max_tokens", "tokens_per_fill", "fill_interval")
	allow(descend, flt+"cors.v3.CorsPolicy", "allow_origin_string_match", "allow_methods", "allow_headers",
		"expose_headers", "max_age", "allow_credentials", "forward_not_matching_preflights", "allow_private_network_access")
	allow(descend, typ+"HttpStatus", "code")
	allow(descend, core+"RuntimeFractionalPercent", "default_value")
	// Under the stand-in's empty runtime (kfgate's bootstrap has none) a runtime key never has a
	// value, so its default_value applies.
	allow(inert, core+"RuntimeFractionalPercent", "runtime_key")
	allow(descend, typ+"FractionalPercent", "numerator", "denominator")

	// Access logs (accesslog.go): every logger writes its lines to Options.AccessLog.
	allow(descend, "envoy.config.accesslog.v3.AccessLog", "name", "typed_config")
	allow(descend, "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog", "log_format")
	allow(descend, "envoy.extensions.access_loggers.file.v3.FileAccessLog", "log_format")
	// The stand-in writes no files: a file logger's lines go to Options.AccessLog like the others.
	allow(inert, "envoy.extensions.access_loggers.file.v3.FileAccessLog", "path")
	allow(descend, core+"SubstitutionFormatString", "text_format_source")
	allow(opaque, core+"SubstitutionFormatString", "json_format") // every value is parsed by accesslog.go
	allow(descend, core+"DataSource", "inline_string", "inline_bytes")

	// TLS (tls.go, secret.go).
	allow(descend, tls+"DownstreamTlsContext", "common_tls_context")
	allow(descend, tls+"UpstreamTlsContext", "common_tls_context", "sni")
	allow(descend, tls+"CommonTlsContext", "alpn_protocols", "tls_certificate_sds_secret_configs", "tls_params",
		"combined_validation_context", "validation_context_sds_secret_config")
	allow(descend, tls+"CommonTlsContext.CombinedCertificateValidationContext", "default_validation_context",
		"validation_context_sds_secret_config")
	allow(descend, tls+"CertificateValidationContext", "match_typed_subject_alt_names", "trusted_ca")
	allow(descend, tls+"SubjectAltNameMatcher", "san_type", "matcher")
	allow(descend, tls+"TlsParameters", "tls_minimum_protocol_version", "tls_maximum_protocol_version",
		"cipher_suites", "ecdh_curves")
	allow(descend, tls+"SdsSecretConfig", "name", "sds_config")
	allow(descend, tls+"Secret", "name", "tls_certificate", "validation_context")
	allow(descend, tls+"TlsCertificate", "certificate_chain", "private_key")
	allow(descend, mat+"StringMatcher", "exact", "prefix", "suffix", "safe_regex", "contains", "ignore_case")
	allow(descend, mat+"RegexMatcher", "regex", "google_re2")
	allow(descend, mat+"ListStringMatcher", "patterns")

	// Clusters and endpoints (cluster.go, endpoints.go, upstream.go).
	allow(descend, cl+"Cluster", "name", "type", "connect_timeout", "lb_policy", "dns_lookup_family",
		"load_assignment", "eds_cluster_config", "circuit_breakers", "transport_socket",
		"typed_extension_protocol_options")
	allow(descend, cl+"Cluster.EdsClusterConfig", "eds_config", "service_name")
	allow(descend, cl+"CircuitBreakers", "thresholds")
	allow(descend, cl+"CircuitBreakers.Thresholds", "priority", "max_connections", "max_pending_requests",
		"max_requests", "max_retries")
	allow(descend, "envoy.extensions.upstreams.http.v3.HttpProtocolOptions", "explicit_http_config")
	allow(descend, "envoy.extensions.upstreams.http.v3.HttpProtocolOptions.ExplicitHttpConfig",
		"http_protocol_options", "http2_protocol_options")
	allow(descend, ep+"ClusterLoadAssignment", "cluster_name", "endpoints")
	allow(descend, ep+"LocalityLbEndpoints", "lb_endpoints")
	allow(descend, ep+"LbEndpoint", "endpoint", "health_status")
	allow(descend, ep+"Endpoint", "address")

	// Route policies routeeval records without reading them (retry.go and hashKey in shadow.go read them).
	allow(descend, "envoy.config.route.v3.RetryPolicy", "retry_on", "num_retries", "per_try_timeout")
	allow(descend, "envoy.config.route.v3.RouteAction.HashPolicy", "header", "cookie", "connection_properties")
	allow(descend, "envoy.config.route.v3.RouteAction.HashPolicy.Header", "header_name")
	allow(descend, "envoy.config.route.v3.RouteAction.HashPolicy.Cookie", "name", "path", "ttl")
	allow(descend, "envoy.config.route.v3.RouteAction.HashPolicy.ConnectionProperties", "source_ip")
	// A route's rate_limits are descriptors for the global rate limit filter, which is refused:
	// without a rate limit filter Envoy ignores them.
	allow(inert, "envoy.config.route.v3.RateLimit", "actions")

	allow(descend, wk+"BoolValue", "value")
	allow(descend, wk+"UInt32Value", "value")
	allow(descend, wk+"Duration", "seconds", "nanos")
}
