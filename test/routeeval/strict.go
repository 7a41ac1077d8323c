package routeeval

import (
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/kfgate/kfgate/test/protostrict"
)

// The walk's rules: descend into a modelled field, or record it as-is in the Decision (opaque).
const (
	descend = protostrict.Descend
	opaque  = protostrict.Opaque
)

// allowed lists every field the evaluator models, by full proto name. Any other populated field
// makes Compile fail, so a configuration can never be evaluated with part of it silently ignored.
var allowed = protostrict.New("modelled by the evaluator")

func allow(rule protostrict.Rule, message string, fields ...string) {
	allowed.Allow(rule, message, fields...)
}

func init() {
	const r, c, m, t = "envoy.config.route.v3.", "envoy.config.core.v3.", "envoy.type.matcher.v3.", "envoy.type.v3."
	allow(descend, r+"RouteConfiguration", "name", "virtual_hosts", "internal_only_headers",
		"request_headers_to_add", "request_headers_to_remove", "response_headers_to_add",
		"response_headers_to_remove", "most_specific_header_mutations_wins", "validate_clusters",
		"max_direct_response_body_size_bytes", "request_mirror_policies", "ignore_port_in_host_matching",
		"ignore_path_parameters_in_path_matching")
	allow(opaque, r+"RouteConfiguration", "typed_per_filter_config")
	allow(descend, r+"VirtualHost", "name", "domains", "routes", "require_tls", "request_headers_to_add",
		"request_headers_to_remove", "response_headers_to_add", "response_headers_to_remove",
		"request_mirror_policies", "virtual_clusters")
	allow(descend, r+"VirtualCluster", "name", "headers")
	allow(opaque, r+"VirtualHost", "typed_per_filter_config", "retry_policy", "cors")
	allow(descend, r+"Route", "name", "match", "route", "redirect", "direct_response",
		"request_headers_to_add", "request_headers_to_remove", "response_headers_to_add",
		"response_headers_to_remove")
	allow(opaque, r+"Route", "typed_per_filter_config")
	allow(descend, r+"RouteMatch", "prefix", "path", "safe_regex", "path_separated_prefix",
		"case_sensitive", "runtime_fraction", "headers", "query_parameters", "grpc")
	allow(descend, r+"HeaderMatcher", "name", "exact_match", "safe_regex_match", "range_match",
		"present_match", "prefix_match", "suffix_match", "contains_match", "string_match",
		"invert_match", "treat_missing_header_as_empty")
	allow(descend, r+"QueryParameterMatcher", "name", "string_match", "present_match")
	allow(descend, r+"RouteAction", "cluster", "cluster_header", "weighted_clusters", "prefix_rewrite", "regex_rewrite",
		"host_rewrite_literal", "auto_host_rewrite", "append_x_forwarded_host", "timeout",
		"idle_timeout", "request_mirror_policies", "upgrade_configs")
	allow(opaque, r+"RouteAction", "retry_policy", "hash_policy", "cors", "rate_limits")
	allow(descend, r+"WeightedCluster", "clusters", "total_weight", "runtime_key_prefix")
	allow(descend, r+"WeightedCluster.ClusterWeight", "name", "weight")
	allow(descend, r+"RouteAction.RequestMirrorPolicy", "cluster", "runtime_fraction")
	allow(descend, r+"RouteAction.UpgradeConfig", "upgrade_type", "enabled")
	allow(descend, r+"RedirectAction", "https_redirect", "scheme_redirect", "host_redirect",
		"port_redirect", "path_redirect", "prefix_rewrite", "regex_rewrite", "response_code", "strip_query")
	allow(descend, r+"DirectResponseAction", "status", "body")
	allow(descend, c+"DataSource", "inline_string", "inline_bytes")
	allow(descend, c+"HeaderValueOption", "header", "append", "append_action", "keep_empty_value")
	allow(descend, c+"HeaderValue", "key", "value")
	allow(descend, c+"RuntimeFractionalPercent", "default_value", "runtime_key")
	allow(descend, t+"FractionalPercent", "numerator", "denominator")
	allow(descend, t+"Int64Range", "start", "end")
	allow(descend, m+"StringMatcher", "exact", "prefix", "suffix", "safe_regex", "contains", "ignore_case")
	allow(descend, m+"RegexMatcher", "regex", "google_re2")
	allow(descend, m+"RegexMatchAndSubstitute", "pattern", "substitution")
	allow(descend, "google.protobuf.BoolValue", "value")
	allow(descend, "google.protobuf.UInt32Value", "value")
	allow(descend, "google.protobuf.Duration", "seconds", "nanos")
}

// checkStrict walks every populated field of msg and fails on the first one not in allowed.
// The error names the field by its path in the configuration and by its full proto name.
func checkStrict(msg protoreflect.Message, path string) error {
	if err := allowed.Check(msg, path); err != nil {
		return fmt.Errorf("routeeval: %w", err)
	}
	return nil
}
