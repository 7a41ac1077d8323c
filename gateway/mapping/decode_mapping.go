package mapping

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Emissary fields that kfgate recognises but does not implement, with the reason shown to the user.
var unsupportedFields = map[string]map[string]string{
	KindMapping: {
		"rate_limits":                        "Emissary v0 rate_limits; write labels instead",
		"add_linkerd_headers":                "Linkerd-specific",
		"cluster_idle_timeout_ms":            "cluster tuning is not exposed",
		"cluster_max_connection_lifetime_ms": "cluster tuning is not exposed",
		"cluster_tag":                        "cluster naming is kfgate's",
		"dns_type":                           "kfgate chooses EDS or DNS itself",
		"docs":                               "developer-portal metadata",
		"enable_ipv4":                        "address family selection is not exposed",
		"enable_ipv6":                        "address family selection is not exposed",
		"envoy_override":                     "raw Envoy config is not accepted",
		"error_response_overrides":           "custom error bodies are not implemented",
		"bypass_error_response_overrides":    "custom error bodies are not implemented",
		"keepalive":                          "upstream TCP keepalive is not exposed",
		"outlier_detection":                  "outlier detection is not implemented",
		"resolver":                           "kfgate resolves services itself",
		"stats_name":                         "cluster naming is kfgate's",
		"v3StatsName":                        "cluster naming is kfgate's",
		"modules":                            "per-Mapping modules are not implemented",
	},
	KindModule: {
		"server_name":              "not implemented",
		"diagnostics":              "kfgate's diagnostics are configured by flags",
		"enable_grpc_web":          "not implemented",
		"lua_scripts":              "raw Envoy config is not accepted",
		"strip_matching_host_port": "kfgate matches host:port itself",
	},
	KindAuthService: {
		"path_prefix":      "only proto: grpc is supported",
		"add_auth_headers": "only proto: grpc is supported",
		"tls":              "TLS to the auth service is not implemented; it runs next to Envoy",
	},
	KindTLSContext:       unsupportedTLSFields,
	KindRateLimitService: {"tls": "TLS to the rate limit service is not implemented"},
}

// DefaultTimeoutMs and DefaultConnectTimeoutMs are Emissary's defaults.
const (
	DefaultTimeoutMs        = 3000
	DefaultConnectTimeoutMs = 3000
	maxMs                   = 24 * 3600 * 1000
)

// IsHeaderName reports whether name is a header a route may set: a lower-case HTTP token, not a
// pseudo-header.
func IsHeaderName(name string) bool {
	return !strings.HasPrefix(name, ":") && headerName.MatchString(name)
}

// IsObjectName reports whether name is a Kubernetes object name (a DNS-1123 subdomain).
func IsObjectName(name string) bool { return len(validation.IsDNS1123Subdomain(name)) == 0 }

var (
	headerName = regexp.MustCompile(`^:?[a-z0-9!#$%&'*+\-.^_` + "`" + `|~]+$`)
	methodName = regexp.MustCompile(`^[A-Z]+$`)
	upgradeRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9.\-_]*$`)
)

func decodeMapping(o *object, namespace string) *Mapping {
	m := &Mapping{CaseSensitive: true, ConnectTimeoutMs: DefaultConnectTimeoutMs}
	decodeMatch(o, m)
	decodeAction(o, m, namespace)
	decodeHeaders(o, &m.AddRequestHeaders, &m.AddResponseHeaders, &m.RemoveRequestHeaders, &m.RemoveResponseHeaders)
	m.CORS = decodeCORS(o.child("cors"))
	m.RetryPolicy = decodeRetry(o.child("retry_policy"))
	m.CircuitBreakers = decodeCircuitBreakers(o, "circuit_breakers")
	m.LoadBalancer = decodeLoadBalancer(o.child("load_balancer"))
	m.BypassAuth, _ = o.boolean("bypass_auth")
	m.AuthContextExtensions = stringMap(o, "auth_context_extensions")
	decodeRedirect(o, m)
	m.RateLimits = decodeLabels(o)
	m.LocalRateLimit = decodeLocalRateLimit(o.child("local_rate_limit"))
	if p, ok := o.integer("precedence", -1<<31, 1<<31-1); ok {
		m.Precedence = int(p)
	}
	return m
}

func decodeMatch(o *object, m *Mapping) {
	m.PrefixExact, _ = o.boolean("prefix_exact")
	m.PrefixRegex, _ = o.boolean("prefix_regex")
	if cs, ok := o.boolean("case_sensitive"); ok {
		m.CaseSensitive = cs
	}
	prefix, ok := o.str("prefix")
	switch {
	case !o.has("prefix"):
		o.r.errorf(o.node, "prefix", "is required")
	case !ok: // wrong type, already reported
	case m.PrefixRegex:
		checkRegex(o, "prefix", prefix)
	case !strings.HasPrefix(prefix, "/"):
		o.r.errorf(o.value("prefix"), "prefix", "must start with \"/\" (or set prefix_regex: true), got %q", prefix)
	}
	if m.PrefixExact && m.PrefixRegex {
		o.r.errorf(o.value("prefix_exact"), "prefix_exact", "cannot be combined with prefix_regex")
	}
	m.Prefix = prefix
	m.MethodRegex, _ = o.boolean("method_regex")
	if method, ok := o.str("method"); ok {
		if m.MethodRegex {
			checkRegex(o, "method", method)
		} else if method = strings.ToUpper(method); !methodName.MatchString(method) {
			o.r.errorf(o.value("method"), "method", "%q is not an HTTP method", method)
		}
		m.Method = method
	}
	m.HostRegex, _ = o.boolean("host_regex")
	host, hasHost := o.str("host")
	// Emissary 2's `hostname` is a host glob: "*" is every host, "*.example.com" a suffix.
	if hostname, ok := o.str("hostname"); ok {
		switch {
		case hasHost:
			o.r.errorf(o.keyNode("hostname"), "hostname", "set host or hostname, not both")
		case hostname != "*":
			host, hasHost = hostname, true
		}
	}
	if hasHost {
		if m.HostRegex {
			checkRegex(o, "host", host) // a regex keeps its case: \D and \d differ
			m.Host = host
		} else {
			if err := checkHost(host); err != nil {
				o.r.errorf(o.value("host"), "host", "%v", err)
			}
			m.Host = strings.ToLower(host)
		}
	}
	m.Headers = append(keyMatches(o, "headers", false, true), keyMatches(o, "regex_headers", true, true)...)
	m.Query = append(keyMatches(o, "query_parameters", false, false), keyMatches(o, "regex_query_parameters", true, false)...)
}

// checkHost accepts a host name, optionally with a port, and one leading or trailing `*` wildcard.
func checkHost(h string) error {
	if h == "" || h == "*" {
		return fmt.Errorf("must be a host name; omit host to match every host")
	}
	name := strings.TrimSuffix(strings.TrimPrefix(h, "*"), "*")
	if strings.Contains(name, "*") {
		return fmt.Errorf("%q: a wildcard is allowed only at the start (*.example.com) or the end (example.*)", h)
	}
	if strings.ContainsAny(name, "/ ?#@") {
		return fmt.Errorf("%q is not a host name (no scheme or path)", h)
	}
	return nil
}

func keyMatches(o *object, key string, regex, header bool) []KeyMatch {
	v := o.get(key)
	if v == nil {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		o.r.errorf(v, o.field(key), "must be a mapping of name to value, got %s", describe(v))
		return nil
	}
	var out []KeyMatch
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], deref(v.Content[i+1])
		field := o.field(key) + "." + k.Value
		km := KeyMatch{Name: k.Value, Regex: regex}
		if header {
			km.Name = strings.ToLower(k.Value)
			if !headerName.MatchString(km.Name) {
				o.r.errorf(k, field, "%q is not a valid header name", k.Value)
			}
		}
		switch b, isBool := scalarBool(val); {
		case isBool && val.Tag == "!!bool" && b && !regex:
			km.Present = true
		case val.Kind == yaml.ScalarNode && val.Tag != "!!null" && val.Tag != "!!bool":
			km.Value = val.Value
			if regex {
				checkRegexAt(o.r, val, field, val.Value)
			}
		case regex:
			o.r.errorf(val, field, "must be a regular expression (a string), got %s", describe(val))
		default:
			o.r.errorf(val, field, "must be a string value (or true to require presence), got %s", describe(val))
		}
		out = append(out, km)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func decodeAction(o *object, m *Mapping, namespace string) {
	if raw, ok := o.str("service"); ok {
		ref, err := ParseService(raw, namespace)
		if err != nil {
			o.r.errorf(o.value("service"), "service", "%q: %v", raw, err)
		}
		m.Service = ref
	} else if !o.has("service") {
		o.r.errorf(o.node, "service", "is required")
	}
	root := "/"
	m.Rewrite = &root
	if rw, ok := o.str("rewrite"); ok {
		m.Rewrite = &rw
		if rw == "" {
			m.Rewrite = nil
		} else if !strings.HasPrefix(rw, "/") {
			o.r.errorf(o.value("rewrite"), "rewrite", "must start with \"/\" (or be \"\" for no rewrite), got %q", rw)
		}
	}
	warnDoubleSlash(o, m)
	m.RegexRewrite = decodeRegexRewrite(o.child("regex_rewrite"))
	m.HostRewrite, _ = o.str("host_rewrite")
	m.AutoHostRewrite, _ = o.boolean("auto_host_rewrite")
	if w, ok := o.integer("weight", 0, 100); ok {
		wi := int(w)
		m.Weight = &wi
	}
	m.Shadow, _ = o.boolean("shadow")
	m.TimeoutMs = optionalMs(o, "timeout_ms")
	m.IdleTimeoutMs = optionalMs(o, "idle_timeout_ms")
	if ct, ok := o.integer("connect_timeout_ms", 1, maxMs); ok {
		m.ConnectTimeoutMs = ct
	}
	if ws, _ := o.boolean("use_websocket"); ws {
		m.Upgrades = append(m.Upgrades, "websocket")
	}
	for i, u := range o.strList("allow_upgrade", false) {
		if u = strings.ToLower(u); !upgradeRE.MatchString(u) {
			o.r.errorf(o.value("allow_upgrade"), fmt.Sprintf("allow_upgrade[%d]", i), "%q is not a protocol name", u)
		} else if !contains(m.Upgrades, u) {
			m.Upgrades = append(m.Upgrades, u)
		}
	}
	m.GRPC, _ = o.boolean("grpc")
	decodeTLS(o, m)
}

// warnDoubleSlash flags Emissary's classic surprise: Envoy replaces exactly the matched prefix, so
// prefix /jupyter with rewrite / forwards /jupyter/x as //x.
func warnDoubleSlash(o *object, m *Mapping) {
	if m.Rewrite == nil || m.PrefixRegex || m.PrefixExact || o.has("regex_rewrite") || !strings.HasPrefix(m.Prefix, "/") ||
		strings.HasSuffix(m.Prefix, "/") || !strings.HasSuffix(*m.Rewrite, "/") {
		return
	}
	implicit := ""
	if !o.has("rewrite") {
		implicit = " (the default)"
	}
	o.r.report(o.keyNode("rewrite"), SeverityWarning, ReasonDoubleSlash, "rewrite",
		"prefix %q does not end in \"/\" but rewrite %q%s does: %q is forwarded as %q; end the prefix with \"/\" or set rewrite without one",
		m.Prefix, *m.Rewrite, implicit, m.Prefix+"/x", *m.Rewrite+"/x")
}

func decodeTLS(o *object, m *Mapping) {
	v := o.get("tls")
	if v == nil {
		m.TLS = m.Service.TLS()
		return
	}
	if b, ok := scalarBool(v); ok && v.Tag == "!!bool" {
		m.TLS = b || m.Service.TLS()
		return
	}
	name, ok := o.str("tls")
	switch {
	case !ok:
	case !IsObjectName(name):
		o.r.errorf(v, "tls", "must be true, false or the name of a TLSContext, got %q", name)
	default:
		m.TLS, m.TLSContext = true, name
	}
}

func optionalMs(o *object, key string) *int64 {
	if v, ok := o.integer(key, 0, maxMs); ok {
		return &v
	}
	return nil
}

func decodeRegexRewrite(o *object) *RegexRewrite {
	if o == nil {
		return nil
	}
	rr := &RegexRewrite{}
	var ok bool
	if rr.Pattern, ok = o.str("pattern"); ok {
		checkRegex(o, "pattern", rr.Pattern)
	} else if !o.has("pattern") {
		o.r.errorf(o.node, o.field("pattern"), "is required")
	}
	if rr.Substitution, ok = o.str("substitution"); !ok && !o.has("substitution") {
		o.r.errorf(o.node, o.field("substitution"), "is required")
	}
	o.finish(nil)
	return rr
}

func decodeRedirect(o *object, m *Mapping) {
	hostRedirect, _ := o.boolean("host_redirect")
	r := &Redirect{Code: 301}
	r.Path, _ = o.str("path_redirect")
	r.Prefix, _ = o.str("prefix_redirect")
	r.Regex = decodeRegexRewrite(o.child("regex_redirect"))
	code, hasCode := o.integer("redirect_response_code", 0, 999)
	set := 0
	for _, b := range []bool{r.Path != "", r.Prefix != "", r.Regex != nil} {
		if b {
			set++
		}
	}
	if set > 1 {
		o.r.errorf(o.node, "path_redirect", "only one of path_redirect, prefix_redirect and regex_redirect may be set")
	}
	if !hostRedirect {
		for _, k := range []string{"path_redirect", "prefix_redirect", "regex_redirect", "redirect_response_code"} {
			if o.has(k) {
				o.r.errorf(o.value(k), k, "requires host_redirect: true")
			}
		}
		return
	}
	if hasCode {
		switch code {
		case 301, 302, 303, 307, 308:
			r.Code = int(code)
		default:
			o.r.errorf(o.value("redirect_response_code"), "redirect_response_code", "must be one of 301, 302, 303, 307, 308, got %d", code)
		}
	}
	for _, p := range []struct{ key, val string }{{"path_redirect", r.Path}, {"prefix_redirect", r.Prefix}} {
		if p.val != "" && !strings.HasPrefix(p.val, "/") {
			o.r.errorf(o.value(p.key), p.key, "must start with \"/\", got %q", p.val)
		}
	}
	m.Redirect = r
}

func checkRegex(o *object, key, expr string) {
	checkRegexAt(o.r, o.value(key), o.field(key), expr)
}

func checkRegexAt(r *reader, n *yaml.Node, field, expr string) {
	if _, err := regexp.Compile(expr); err != nil {
		r.errorf(n, field, "invalid RE2 regular expression %q: %v", expr, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
