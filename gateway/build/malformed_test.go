package build

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source"
)

// goodMapping is valid and must keep producing its route whatever sits next to it in the annotation.
const goodMapping = `apiVersion: getambassador.io/v2
kind: Mapping
name: good
prefix: /good/
service: good
`

// badMapping is a Mapping header (apiVersion, kind, name) followed by body.
func badMapping(body string) string {
	return "apiVersion: getambassador.io/v2\nkind: Mapping\nname: bad\n" + body
}

// badMappingPS is badMapping with a valid prefix and service, so that only body is wrong.
func badMappingPS(body string) string {
	return badMapping("prefix: /bad/\nservice: app\n" + body)
}

func badModule(body string) string {
	return "apiVersion: getambassador.io/v2\nkind: Module\nname: ambassador\n" + body
}

func badTLS(body string) string {
	return "apiVersion: getambassador.io/v2\nkind: TLSContext\nname: tls\nhosts: [example.com]\n" + body
}

func badAuth(body string) string {
	return "apiVersion: getambassador.io/v2\nkind: AuthService\nname: auth\nauth_service: auth:3000\n" + body
}

type malformedRow struct {
	name  string
	bad   string // one or more YAML documents
	field string // exact diagnostic field path
	msg   string // substring of the diagnostic message
	sev   mapping.Severity
	doc   string // when set, the DocName the diagnostic must carry
	// separate puts the good Mapping in a second annotation (kfgate.io/config): for rows that reject
	// the whole annotation.
	separate bool
}

func malformedRows() []malformedRow {
	E, W, I := mapping.SeverityError, mapping.SeverityWarning, mapping.SeverityInfo
	tooLarge := badMappingPS("") + strings.Repeat("# padding to go over the annotation size limit\n", (mapping.MaxAnnotationBytes/47)+10)
	return []malformedRow{
		// Wrong types, one per kind of field.
		{name: "string field given a list", bad: badMapping("prefix: [/a/, /b/]\nservice: app\n"), field: "prefix", msg: "must be a string, got a list", sev: E},
		{name: "string field given a mapping", bad: badMappingPS("host_rewrite: {a: b}\n"), field: "host_rewrite", msg: "must be a string, got a mapping", sev: E},
		{name: "string field given a bool", bad: badMapping("prefix: /bad/\nservice: true\n"), field: "service", msg: `must be a string, got boolean "true"`, sev: E},
		{name: "bool field given a string", bad: badMappingPS("bypass_auth: \"yes\"\n"), field: "bypass_auth", msg: `must be true or false, got string "yes"`, sev: E},
		{name: "bool field given an int", bad: badMappingPS("prefix_exact: 1\n"), field: "prefix_exact", msg: `must be true or false, got integer "1"`, sev: E},
		{name: "int field given a string", bad: badMappingPS("timeout_ms: fast\n"), field: "timeout_ms", msg: `must be an integer, got string "fast"`, sev: E},
		{name: "int field given a fraction", bad: badMappingPS("weight: 1.5\n"), field: "weight", msg: `must be an integer, got number "1.5"`, sev: E},
		{name: "int field given a list", bad: badMappingPS("precedence: [1]\n"), field: "precedence", msg: "must be an integer, got a list", sev: E},
		{name: "list field given a mapping", bad: badMappingPS("allow_upgrade: {websocket: true}\n"), field: "allow_upgrade", msg: "must be a list of strings, got a mapping", sev: E},
		{name: "list element given a mapping", bad: badMappingPS("remove_request_headers: [x-a, {b: c}]\n"), field: "remove_request_headers[1]", msg: "must be a string, got a mapping", sev: E},
		{name: "map field given a list", bad: badMappingPS("add_request_headers: [x-a]\n"), field: "add_request_headers", msg: "must be a mapping of header name to value, got a list", sev: E},
		{name: "object field given a string", bad: badMappingPS("cors: everything\n"), field: "cors", msg: `must be a mapping, got string "everything"`, sev: E},
		{name: "string map value given a list", bad: badMappingPS("auth_context_extensions:\n  team: [a]\n"), field: "auth_context_extensions.team", msg: "must be a string, got a list", sev: E},
		{name: "module config given a string", bad: badModule("config: none\n"), field: "config", msg: `must be a mapping, got string "none"`, sev: E},
		{name: "module bool given a string", bad: badModule("config:\n  use_remote_address: maybe\n"), field: "config.use_remote_address", msg: "must be true or false", sev: E},
		{name: "module int out of range", bad: badModule("config:\n  xff_num_trusted_hops: 17\n"), field: "config.xff_num_trusted_hops", msg: "must be between 0 and 16, got 17", sev: E},
		{name: "module circuit breaker priority", bad: badModule("config:\n  circuit_breakers:\n  - priority: low\n"), field: "config.circuit_breakers[0].priority", msg: `must be default or high, got "low"`, sev: E},

		// RE2 regular expressions that do not compile.
		{name: "prefix_regex invalid", bad: badMapping("prefix: \"/([a\"\nprefix_regex: true\nservice: app\n"), field: "prefix", msg: "invalid RE2 regular expression", sev: E},
		{name: "prefix_regex Perl lookahead", bad: badMapping("prefix: \"/(?!admin)\"\nprefix_regex: true\nservice: app\n"), field: "prefix", msg: "invalid or unsupported Perl syntax", sev: E},
		{name: "regex_headers invalid", bad: badMappingPS("regex_headers:\n  x-version: \"v[1-\"\n"), field: "regex_headers.x-version", msg: "invalid RE2 regular expression", sev: E},
		{name: "regex_query_parameters invalid", bad: badMappingPS("regex_query_parameters:\n  q: \"a**\"\n"), field: "regex_query_parameters.q", msg: "invalid RE2 regular expression", sev: E},
		{name: "regex_rewrite pattern invalid", bad: badMappingPS("regex_rewrite:\n  pattern: \"^/bad/(.*\"\n  substitution: /\\1\n"), field: "regex_rewrite.pattern", msg: "invalid RE2 regular expression", sev: E},
		{name: "regex_rewrite without substitution", bad: badMappingPS("regex_rewrite:\n  pattern: \"^/bad/\"\n"), field: "regex_rewrite.substitution", msg: "is required", sev: E},
		{name: "host_regex invalid", bad: badMappingPS("host: \"[a-z+\\\\.example\\\\.com\"\nhost_regex: true\n"), field: "host", msg: "invalid RE2 regular expression", sev: E},
		{name: "method_regex invalid", bad: badMappingPS("method: \"GET|(POST\"\nmethod_regex: true\n"), field: "method", msg: "invalid RE2 regular expression", sev: E},

		// Weights.
		{name: "weight -1", bad: badMappingPS("weight: -1\n"), field: "weight", msg: "must be between 0 and 100, got -1", sev: E},
		{name: "weight 101", bad: badMappingPS("weight: 101\n"), field: "weight", msg: "must be between 0 and 100, got 101", sev: E},
		{name: "canary group over 100", bad: "apiVersion: getambassador.io/v2\nkind: Mapping\nname: canary-a\nprefix: /canary/\nservice: a\nweight: 60\n---\n" +
			"apiVersion: getambassador.io/v2\nkind: Mapping\nname: canary-b\nprefix: /canary/\nservice: b\nweight: 50\n",
			field: "weight", msg: "weight 50 brings the canary group over 100 (older Mappings already take 60)", sev: E, doc: "canary-b"},

		// The service grammar.
		{name: "service with a path", bad: badMapping("prefix: /bad/\nservice: app/api\n"), field: "service", msg: "without a path, query or fragment", sev: E},
		{name: "service with a query", bad: badMapping("prefix: /bad/\nservice: app?x=1\n"), field: "service", msg: "without a path, query or fragment", sev: E},
		{name: "service with a fragment", bad: badMapping("prefix: /bad/\nservice: app#top\n"), field: "service", msg: "without a path, query or fragment", sev: E},
		{name: "service with port out of range", bad: badMapping("prefix: /bad/\nservice: app:65536\n"), field: "service", msg: `port "65536" must be a number from 1 to 65535`, sev: E},
		{name: "service with port 0", bad: badMapping("prefix: /bad/\nservice: app:0\n"), field: "service", msg: `port "0" must be a number from 1 to 65535`, sev: E},
		{name: "service with named port", bad: badMapping("prefix: /bad/\nservice: app:http\n"), field: "service", msg: `port "http" must be a number`, sev: E},
		{name: "service with unsupported scheme", bad: badMapping("prefix: /bad/\nservice: grpc://app:80\n"), field: "service", msg: `unsupported scheme "grpc"`, sev: E},
		{name: "service empty", bad: badMapping("prefix: /bad/\nservice: \"\"\n"), field: "service", msg: "must not be empty", sev: E},
		{name: "service with user info", bad: badMapping("prefix: /bad/\nservice: user@app\n"), field: "service", msg: "must not contain user information", sev: E},
		{name: "service not a DNS name", bad: badMapping("prefix: /bad/\nservice: my_app\n"), field: "service", msg: "is not a valid DNS name", sev: E},

		// Match and action values.
		{name: "prefix without leading slash", bad: badMapping("prefix: bad/\nservice: app\n"), field: "prefix", msg: `must start with "/" (or set prefix_regex: true), got "bad/"`, sev: E},
		{name: "prefix_exact with prefix_regex", bad: badMapping("prefix: /bad/\nprefix_exact: true\nprefix_regex: true\nservice: app\n"), field: "prefix_exact", msg: "cannot be combined with prefix_regex", sev: E},
		{name: "rewrite without leading slash", bad: badMappingPS("rewrite: v1/\n"), field: "rewrite", msg: `must start with "/"`, sev: E},
		{name: "host with a path", bad: badMappingPS("host: example.com/x\n"), field: "host", msg: "is not a host name", sev: E},
		{name: "host with a wildcard in the middle", bad: badMappingPS("host: a.*.example.com\n"), field: "host", msg: "a wildcard is allowed only at the start", sev: E},
		{name: "method not a method", bad: badMappingPS("method: \"GET POST\"\n"), field: "method", msg: `"GET POST" is not an HTTP method`, sev: E},
		{name: "negative timeout_ms", bad: badMappingPS("timeout_ms: -1\n"), field: "timeout_ms", msg: "must be between 0 and 86400000, got -1", sev: E},
		{name: "negative idle_timeout_ms", bad: badMappingPS("idle_timeout_ms: -500\n"), field: "idle_timeout_ms", msg: "must be between 0 and 86400000, got -500", sev: E},
		{name: "connect_timeout_ms 0", bad: badMappingPS("connect_timeout_ms: 0\n"), field: "connect_timeout_ms", msg: "must be between 1 and 86400000, got 0", sev: E},
		{name: "timeout_ms over a day", bad: badMappingPS("timeout_ms: 86400001\n"), field: "timeout_ms", msg: "must be between 0 and 86400000", sev: E},
		{name: "allow_upgrade not a protocol", bad: badMappingPS("allow_upgrade: [websocket, \"spdy/3\"]\n"), field: "allow_upgrade[1]", msg: `"spdy/3" is not a protocol name`, sev: E},
		{name: "tls names a missing TLSContext", bad: badMappingPS("tls: upstream-context\n"), field: "tls", msg: `no TLSContext "upstream-context" in namespace "default"`, sev: E},
		{name: "tls not a name", bad: badMappingPS("tls: Not_A_Name\n"), field: "tls", msg: "must be true, false or the name of a TLSContext", sev: E},
		{name: "labels not a mapping", bad: badMappingPS("labels: [a]\n"), field: "labels", msg: "must be a mapping of rate limit domain to label groups", sev: E},
		{name: "label group with two keys", bad: badMappingPS("labels: {ambassador: [{a: [x], b: [y]}]}\n"), field: "labels.ambassador[0]", msg: "must be a mapping with one key", sev: E},
		{name: "label request_headers without header_name", bad: badMappingPS("labels: {ambassador: [{g: [{request_headers: {key: k}}]}]}\n"), field: "labels.ambassador[0].g[0].request_headers.header_name", msg: "is required", sev: E},
		{name: "label generic_key without value", bad: badMappingPS("labels: {ambassador: [{g: [{generic_key: {key: k}}]}]}\n"), field: "labels.ambassador[0].g[0].generic_key.value", msg: "is required", sev: E},
		{name: "local_rate_limit without requests", bad: badMappingPS("local_rate_limit: {per: minute}\n"), field: "local_rate_limit.requests", msg: "is required", sev: E},
		{name: "local_rate_limit unknown unit", bad: badMappingPS("local_rate_limit: {requests: 5, per: day}\n"), field: "local_rate_limit.per", msg: "must be one of second, minute, hour", sev: E},
		{name: "local_rate_limit burst below requests", bad: badMappingPS("local_rate_limit: {requests: 5, burst: 2}\n"), field: "local_rate_limit.burst", msg: "is less than requests", sev: E},

		// Header, kind and identity.
		{name: "unknown apiVersion", bad: "apiVersion: getambassador.io/v9\nkind: Mapping\nname: bad\nprefix: /bad/\nservice: app\n", field: "apiVersion", msg: `unknown apiVersion "getambassador.io/v9"`, sev: E, doc: "bad"},
		{name: "missing apiVersion", bad: "kind: Mapping\nname: bad\nprefix: /bad/\nservice: app\n", field: "apiVersion", msg: "is required", sev: E},
		{name: "unknown kind", bad: "apiVersion: getambassador.io/v2\nkind: Mappin\nname: bad\nprefix: /bad/\nservice: app\n", field: "kind", msg: `unknown kind "Mappin"`, sev: E},
		{name: "missing kind", bad: "apiVersion: getambassador.io/v2\nname: bad\nprefix: /bad/\nservice: app\n", field: "kind", msg: "is required (Mapping, Module, AuthService, TLSContext, RateLimitService)", sev: E},
		{name: "missing name", bad: "apiVersion: getambassador.io/v2\nkind: Mapping\nprefix: /bad/\nservice: app\n", field: "name", msg: "is required", sev: E},
		{name: "missing name in CRD metadata", bad: "apiVersion: getambassador.io/v2\nkind: Mapping\nmetadata:\n  namespace: default\nspec:\n  prefix: /bad/\n  service: app\n", field: "metadata.name", msg: "is required", sev: E},
		{name: "CRD metadata without spec", bad: "apiVersion: getambassador.io/v2\nkind: Mapping\nmetadata:\n  name: bad\n", field: "spec", msg: "is required when metadata is given", sev: E},
		{name: "missing prefix", bad: badMapping("service: app\n"), field: "prefix", msg: "is required", sev: E},
		{name: "missing service", bad: badMapping("prefix: /bad/\n"), field: "service", msg: "is required", sev: E},
		{name: "TLSContext Secret missing", bad: badTLS("secret: tls-cert\n"), field: "secret", msg: "Secret default/tls-cert not found", sev: E, doc: "tls"},
		{name: "TLSContext without secret", bad: badTLS(""), field: "secret", msg: "is required with hosts", sev: E, doc: "tls"},
		{name: "TLSContext bad host", bad: "apiVersion: getambassador.io/v2\nkind: TLSContext\nname: tls\nhosts: [\"a b\"]\nsecret: s\n", field: "hosts[0]", msg: `"a b" is not a host name`, sev: E, doc: "tls"},
		{name: "TLSContext unknown cipher", bad: badTLS("secret: s\ncipher_suites: [ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-AES128-GCM-SHA257]\n"), field: "cipher_suites[1]", msg: `unknown name "ECDHE-RSA-AES128-GCM-SHA257"; did you mean "ECDHE-RSA-AES128-GCM-SHA256"?`, sev: E, doc: "tls"},
		{name: "TLSContext unknown TLS version", bad: badTLS("secret: s\nmin_tls_version: v1.4\n"), field: "min_tls_version", msg: `unknown TLS version "v1.4"`, sev: E, doc: "tls"},
		{name: "TLSContext min above max", bad: badTLS("secret: s\nmin_tls_version: v1.3\nmax_tls_version: v1.2\n"), field: "min_tls_version", msg: "v1.3 is newer than max_tls_version v1.2", sev: E, doc: "tls"},
		{name: "TLSContext redirect from another port", bad: badTLS("secret: s\nredirect_cleartext_from: 80\n"), field: "redirect_cleartext_from", msg: "80 is not kfgate's cleartext listener port 8080", sev: E, doc: "tls"},
		{name: "TLSContext ca_secret with hosts", bad: badTLS("secret: s\nca_secret: ca\n"), field: "ca_secret", msg: "client certificate validation is not implemented", sev: E, doc: "tls"},
		{name: "TLSContext cross-namespace secret", bad: badTLS("secret: \"other/s\"\n"), field: "secret", msg: `"other/s" is not a Secret name`, sev: E, doc: "tls"},
		{name: "RateLimitService without service", bad: "apiVersion: getambassador.io/v2\nkind: RateLimitService\nname: rl\n", field: "service", msg: "is required", sev: E, doc: "rl"},
		{name: "RateLimitService v2", bad: "apiVersion: getambassador.io/v2\nkind: RateLimitService\nname: rl\nservice: rls:8081\nprotocol_version: v2\n", field: "protocol_version", msg: "only v3 is supported", sev: E, doc: "rl"},
		{name: "Module envoy_log_type", bad: badModule("config: {envoy_log_type: xml}\n"), field: "config.envoy_log_type", msg: "must be json or text", sev: E},
		{name: "Module envoy_log_format odd percent", bad: badModule("config: {envoy_log_type: text, envoy_log_format: \"%START_TIME% %REQ(:PATH)\"}\n"), field: "config.envoy_log_format", msg: "has a % that starts no command", sev: E},
		{name: "Module envoy_log_format unknown command", bad: badModule("config: {envoy_log_type: text, envoy_log_format: \"%START_TIME% %NOT_A_COMMAND%\"}\n"), field: "config.envoy_log_format", msg: "%NOT_A_COMMAND% is not an Envoy access log command", sev: E},
		{name: "Module envoy_log_format REQ without argument", bad: badModule("config: {envoy_log_format: {path: \"%REQ%\"}}\n"), field: "config.envoy_log_format.path", msg: "%REQ% needs an argument", sev: E},
		{name: "tls Module client certificates", bad: "apiVersion: getambassador.io/v2\nkind: Module\nname: tls\nconfig: {server: {secret: s}, client: {enabled: true, cert_required: true}}\n", field: "config.client", msg: "client certificate validation is not implemented", sev: E},
		{name: "TLSContext cert_required", bad: badTLS("secret: s\ncert_required: true\n"), field: "cert_required", msg: "client certificate validation is not implemented", sev: E, doc: "tls"},
		{name: "TLSContext sni too long", bad: "apiVersion: getambassador.io/v2\nkind: TLSContext\nname: tls\nsni: " + strings.Repeat("a.", 127) + "com\n", field: "sni", msg: "is not a host name", sev: E, doc: "tls"},
		{name: "label with an empty key", bad: badMappingPS("labels: {ambassador: [{g: [{\"\": {header: x-tenant}}]}]}\n"), field: "labels.ambassador[0].g[0].", msg: "the label's key must not be empty", sev: E},
		{name: "Module envoy_log_path relative", bad: badModule("config: {envoy_log_path: logs/access.log}\n"), field: "config.envoy_log_path", msg: "must be an absolute path", sev: E},
		{name: "Module strict_transport_security", bad: badModule("config: {strict_transport_security: forever}\n"), field: "config.strict_transport_security", msg: "is not a Strict-Transport-Security value", sev: E},
		{name: "TLSContext redirect without hosts", bad: "apiVersion: getambassador.io/v2\nkind: TLSContext\nname: tls\nredirect_cleartext_from: 8080\n", field: "redirect_cleartext_from", msg: "needs hosts", sev: E, doc: "tls"},
		{name: "tls Module without server", bad: "apiVersion: getambassador.io/v2\nkind: Module\nname: tls\nconfig: {}\n", field: "config.server", msg: "is required in the tls Module", sev: E},
		{name: "tls Module field path", bad: "apiVersion: getambassador.io/v2\nkind: Module\nname: tls\nconfig: {server: {secret: s, min_tls_version: v1.9}}\n", field: "config.server.min_tls_version", msg: `unknown TLS version "v1.9"`, sev: E},
		{name: "TLSContext ciphers with TLS 1.3 only", bad: badTLS("secret: s\nmin_tls_version: v1.3\ncipher_suites: [ECDHE-RSA-AES128-GCM-SHA256]\n"), field: "cipher_suites", msg: "has no effect with min_tls_version v1.3", sev: W, doc: "tls"},

		// Unknown and unsupported fields: warnings, the document is still served.
		{name: "unknown field with suggestion", bad: badMappingPS("timout_ms: 5000\n"), field: "timout_ms", msg: `unknown field; ignored (did you mean "timeout_ms"?)`, sev: W},
		{name: "unknown field without suggestion", bad: badMappingPS("frobnicate: true\n"), field: "frobnicate", msg: "unknown field; ignored", sev: W},
		{name: "unknown nested field with suggestion", bad: badMappingPS("cors:\n  origins: \"*\"\n  method: GET\n"), field: "cors.method", msg: `did you mean "methods"?`, sev: W},
		{name: "unsupported Emissary field", bad: badMappingPS("rate_limits:\n- descriptor: a\n"), field: "rate_limits", msg: "not supported by kfgate", sev: W},

		// Headers.
		{name: "invalid header name in add_request_headers", bad: badMappingPS("add_request_headers:\n  \"x bad\": value\n"), field: "add_request_headers.x bad", msg: `"x bad" is not a header that can be set`, sev: E},
		{name: "pseudo-header in add_response_headers", bad: badMappingPS("add_response_headers:\n  \":status\": \"200\"\n"), field: "add_response_headers.:status", msg: "is not a header that can be set", sev: E},
		{name: "header value with a newline", bad: badMappingPS("add_request_headers:\n  x-a: \"one\\ntwo\"\n"), field: "add_request_headers.x-a", msg: "value must not contain CR, LF or NUL", sev: E},
		{name: "header value with a newline in value form", bad: badMappingPS("add_response_headers:\n  x-a:\n    value: |\n      one\n      two\n    append: false\n"), field: "add_response_headers.x-a", msg: "value must not contain CR, LF or NUL", sev: E},
		{name: "remove host header", bad: badMappingPS("remove_request_headers: [Host]\n"), field: "remove_request_headers[0]", msg: `"Host" is not a header that can be removed`, sev: E},
		{name: "invalid header name in headers", bad: badMappingPS("headers:\n  \"x(y)\": a\n"), field: "headers.x(y)", msg: "is not a valid header name", sev: E},
		{name: "header match given a list", bad: badMappingPS("headers:\n  x-a: [a, b]\n"), field: "headers.x-a", msg: "must be a string value (or true to require presence), got a list", sev: E},

		// CORS, retries, load balancing, circuit breakers.
		{name: "cors origin without scheme", bad: badMappingPS("cors:\n  origins: https://ok.example.com,example.com\n"), field: "cors.origins[1]", msg: `"example.com" must be * or a scheme://host origin`, sev: E},
		{name: "cors max_age negative", bad: badMappingPS("cors:\n  origins: \"*\"\n  max_age: -1\n"), field: "cors.max_age", msg: "must be a number of seconds", sev: E},
		{name: "retry_on unknown", bad: badMappingPS("retry_policy:\n  retry_on: 5xx,sometimes\n"), field: "retry_policy.retry_on", msg: `unknown retry condition "sometimes"`, sev: E},
		{name: "num_retries too many", bad: badMappingPS("retry_policy:\n  retry_on: 5xx\n  num_retries: 101\n"), field: "retry_policy.num_retries", msg: "must be between 0 and 100", sev: E},
		{name: "per_try_timeout not a duration", bad: badMappingPS("retry_policy:\n  retry_on: 5xx\n  per_try_timeout: soon\n"), field: "retry_policy.per_try_timeout", msg: `"soon" is not a duration`, sev: E},
		{name: "load_balancer ring_hash without hash key", bad: badMappingPS("load_balancer:\n  policy: ring_hash\n"), field: "load_balancer", msg: "ring_hash needs exactly one of cookie, header or source_ip", sev: E},
		{name: "load_balancer hash key without hashing", bad: badMappingPS("load_balancer:\n  policy: round_robin\n  source_ip: true\n"), field: "load_balancer", msg: "apply only to ring_hash and maglev", sev: E},
		{name: "load_balancer unknown policy", bad: badMappingPS("load_balancer:\n  policy: random\n"), field: "load_balancer.policy", msg: `got "random"`, sev: E},
		{name: "load_balancer cookie without name", bad: badMappingPS("load_balancer:\n  policy: ring_hash\n  cookie:\n    ttl: 1h\n"), field: "load_balancer.cookie.name", msg: "is required", sev: E},
		{name: "circuit breaker priority twice", bad: badMappingPS("circuit_breakers:\n- priority: high\n- priority: HIGH\n"), field: "circuit_breakers[1].priority", msg: `priority "high" is listed twice`, sev: E},
		{name: "circuit breaker max negative", bad: badMappingPS("circuit_breakers:\n- max_connections: -1\n"), field: "circuit_breakers[0].max_connections", msg: "must be between 0 and 4294967295", sev: E},

		// Redirects.
		{name: "redirect_response_code 305", bad: badMappingPS("host_redirect: true\nredirect_response_code: 305\n"), field: "redirect_response_code", msg: "must be one of 301, 302, 303, 307, 308, got 305", sev: E},
		{name: "path_redirect without host_redirect", bad: badMappingPS("path_redirect: /elsewhere\n"), field: "path_redirect", msg: "requires host_redirect: true", sev: E},
		{name: "two redirect kinds", bad: badMappingPS("host_redirect: true\npath_redirect: /a\nprefix_redirect: /b\n"), field: "path_redirect", msg: "only one of path_redirect, prefix_redirect and regex_redirect", sev: E},
		{name: "prefix_redirect without leading slash", bad: badMappingPS("host_redirect: true\nprefix_redirect: b/\n"), field: "prefix_redirect", msg: `must start with "/", got "b/"`, sev: E},

		// YAML structure.
		{name: "YAML syntax error", bad: badMapping("prefix: [/bad/\nservice: app\n"), field: "", msg: "invalid YAML", sev: E},
		{name: "YAML tab indentation", bad: badMapping("prefix: /bad/\nservice: app\ncors:\n\torigins: \"*\"\n"), field: "", msg: "invalid YAML", sev: E},
		{name: "document is a list", bad: "- apiVersion: getambassador.io/v2\n- kind: Mapping\n", field: "", msg: "must be a mapping, got a list", sev: E},
		{name: "document is a scalar", bad: "just some text\n", field: "", msg: `must be a mapping, got string "just some text"`, sev: E},
		{name: "duplicate key", bad: badMappingPS("prefix: /again/\n"), field: "prefix", msg: "appears more than once", sev: E},
		{name: "non-string key", bad: badMappingPS("? [a, b]\n: c\n"), field: "", msg: "keys must be strings", sev: E},
		{name: "duplicate Mapping name", bad: "apiVersion: getambassador.io/v2\nkind: Mapping\nname: twin\nprefix: /one/\nservice: one\n---\n" +
			"apiVersion: getambassador.io/v2\nkind: Mapping\nname: twin\nprefix: /two/\nservice: two\n",
			field: "name", msg: `another Mapping named "twin" in namespace "default" already exists in Service default/app`, sev: E, doc: "twin"},

		// AuthService.
		{name: "AuthService proto http", bad: badAuth("proto: http\n"), field: "proto", msg: `only "grpc" is supported`, sev: E, doc: "auth"},
		{name: "AuthService status_on_error 42", bad: badAuth("proto: grpc\nstatus_on_error:\n  code: 42\n"), field: "status_on_error.code", msg: "must be between 100 and 599, got 42", sev: E},
		{name: "AuthService missing auth_service", bad: "apiVersion: getambassador.io/v2\nkind: AuthService\nname: auth\nproto: grpc\n", field: "auth_service", msg: "is required", sev: E},
		{name: "AuthService include_body max_bytes 0", bad: badAuth("proto: grpc\ninclude_body:\n  max_bytes: 0\n"), field: "include_body.max_bytes", msg: "must be between 1 and", sev: E},

		// Ownership and size.
		{name: "ambassador_id of another installation", bad: badMappingPS("ambassador_id: [staging, canary]\n"), field: "ambassador_id", msg: `belongs to ambassador_id [staging canary], not this installation's "default"; ignored`, sev: I},
		{name: "ambassador_id given a mapping", bad: badMappingPS("ambassador_id: {id: x}\n"), field: "ambassador_id", msg: "must be a list of strings", sev: E},
		{name: "annotation over 256 KiB", bad: tooLarge, field: "", msg: "more than the limit of 262144; ignored as a whole", sev: E, separate: true},
	}
}

// TestMalformedInputs puts each malformed document next to a valid Mapping in one Service annotation
// and checks that the problem is reported precisely (field path, severity, message) while the valid
// Mapping still gets its route.
func TestMalformedInputs(t *testing.T) {
	rows := malformedRows()
	if len(rows) < 30 {
		t.Fatalf("only %d rows", len(rows))
	}
	seen := map[string]bool{}
	for _, row := range rows {
		if seen[row.name] {
			t.Fatalf("duplicate row name %q", row.name)
		}
		seen[row.name] = true
		t.Run(row.name, func(t *testing.T) {
			src := mapping.Source{Kind: "Service", Namespace: "default", Name: "app", Key: mapping.AnnotationAmbassador}
			var texts []source.Text
			if row.separate {
				src2 := src
				src2.Key = mapping.AnnotationKfgate
				texts = []source.Text{{Source: src, Body: row.bad}, {Source: src2, Body: goodMapping}}
			} else {
				texts = []source.Text{{Source: src, Body: row.bad + "\n---\n" + goodMapping}}
			}
			svc := &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "default"},
				Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
			}
			res, err := NewBuilder(Options{}).Build(source.Objects{Texts: texts, Services: []*corev1.Service{svc}})
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			dump := func() string {
				var b strings.Builder
				for _, d := range res.Diagnostics {
					b.WriteString("\n  field=" + d.Field + " | " + d.String())
				}
				return b.String()
			}
			t.Logf("diagnostics:%s", dump())
			found := false
			for _, d := range res.Diagnostics {
				if d.Field == row.field && d.Severity == row.sev && strings.Contains(d.Message, row.msg) &&
					(row.doc == "" || d.DocName == row.doc) {
					found = true
					if d.Source != src {
						t.Errorf("diagnostic source = %+v, want %+v", d.Source, src)
					}
					if d.Reason == "" {
						t.Errorf("diagnostic has no reason: %s", d)
					}
				}
			}
			if !found {
				t.Errorf("no %s diagnostic on field %q containing %q; got:%s", row.sev, row.field, row.msg, dump())
			}
			for _, d := range res.Diagnostics {
				if d.DocName == "good" {
					t.Errorf("the valid Mapping got a diagnostic: %s", d)
				}
			}
			if !hasRoute(res, "default/good", "/good/") {
				t.Errorf("route default/good with prefix /good/ missing; diagnostics:%s", dump())
			}
		})
	}
}

func hasRoute(res *Result, name, prefix string) bool {
	if res.Resources == nil || len(res.Resources.Routes) == 0 {
		return false
	}
	for _, vh := range res.Resources.Routes[0].GetVirtualHosts() {
		for _, rt := range vh.GetRoutes() {
			if rt.GetName() == name && rt.GetMatch().GetPrefix() == prefix {
				return true
			}
		}
	}
	return false
}
