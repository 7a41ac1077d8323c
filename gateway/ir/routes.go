package ir

import (
	"fmt"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kfgate/kfgate/gateway/mapping"
)

// candidate is a valid Mapping on its way to becoming routes.
type candidate struct {
	doc   mapping.Document
	first *mapping.Document // the document itself, for age comparisons
	m     *mapping.Mapping
	route *Route
}

// entry is a route plus what it is sorted and placed by.
type entry struct {
	route      *Route
	host       string // "" unless the route is bound to one virtual host
	precedence int
	prefixLen  int
	headers    int
	queries    int
	prefix     string
	first      *mapping.Document // the group's oldest Mapping: ties go to the older group
	sub        int
}

func newEntry(c *candidate, rt *Route, sub int) entry {
	m := c.m
	e := entry{route: rt, precedence: m.Precedence, prefixLen: len(m.Prefix), queries: len(m.Query),
		prefix: m.Prefix, first: c.first, sub: sub, headers: len(m.Headers)}
	if m.Method != "" {
		e.headers++
	}
	if m.Host != "" {
		e.headers++
		if !m.HostRegex {
			e.host = m.Host
		}
	}
	return e
}

// entryLess is Emissary's order: higher precedence, then longer prefix, then more header constraints
// (host and method count), then more query constraints; then, deterministically, prefix and age.
func entryLess(a, b entry) bool {
	switch {
	case a.precedence != b.precedence:
		return a.precedence > b.precedence
	case a.prefixLen != b.prefixLen:
		return a.prefixLen > b.prefixLen
	case a.headers != b.headers:
		return a.headers > b.headers
	case a.queries != b.queries:
		return a.queries > b.queries
	case a.prefix != b.prefix:
		return a.prefix < b.prefix
	case a.first != b.first:
		return compareAge(a.first, b.first) < 0
	default:
		return a.sub < b.sub
	}
}

// groupKey identifies Mappings that match exactly the same requests: a canary group.
func groupKey(m *mapping.Mapping) string {
	var b strings.Builder
	for _, s := range []string{m.Host, m.Prefix, m.Method} {
		b.WriteString(strconv.Quote(s))
	}
	for _, f := range []bool{m.HostRegex, m.PrefixExact, m.PrefixRegex, m.CaseSensitive, m.MethodRegex} {
		b.WriteString(strconv.FormatBool(f))
	}
	for _, list := range [][]mapping.KeyMatch{m.Headers, m.Query} {
		b.WriteByte('[')
		for _, k := range list {
			fmt.Fprintf(&b, "%q=%q/%t/%t;", k.Name, k.Value, k.Regex, k.Present)
		}
		b.WriteByte(']')
	}
	b.WriteString(strconv.Itoa(m.Precedence))
	return b.String()
}

// checkRegexSizes rejects regexes whose program exceeds the Module's regex_max_size, as Envoy would.
func (r *resolver) checkRegexSizes(d mapping.Document) bool {
	m := d.Mapping
	check := func(field, expr string) bool {
		if expr == "" {
			return true
		}
		size, err := programSize(expr)
		if err == nil && size <= r.module.RegexMaxSize {
			return true
		}
		r.report(d, mapping.SeverityError, mapping.ReasonInvalid, field,
			"regular expression %q is too complex (program size %d, regex_max_size %d)", expr, size, r.module.RegexMaxSize)
		return false
	}
	ok := true
	if m.PrefixRegex {
		ok = check("prefix", m.Prefix) && ok
	}
	if m.MethodRegex {
		ok = check("method", m.Method) && ok
	}
	if m.HostRegex {
		ok = check("host", m.Host) && ok
	}
	for _, h := range m.Headers {
		if h.Regex {
			ok = check("regex_headers."+h.Name, h.Value) && ok
		}
	}
	for _, q := range m.Query {
		if q.Regex {
			ok = check("regex_query_parameters."+q.Name, q.Value) && ok
		}
	}
	if m.RegexRewrite != nil {
		ok = check("regex_rewrite.pattern", m.RegexRewrite.Pattern) && ok
	}
	if m.Redirect != nil && m.Redirect.Regex != nil {
		ok = check("regex_redirect.pattern", m.Redirect.Regex.Pattern) && ok
	}
	return ok
}

// programSize approximates RE2's program size (instruction count), the quantity Envoy bounds.
func programSize(expr string) (int, error) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return 0, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0, err
	}
	return len(prog.Inst), nil
}

func (r *resolver) buildRoute(d mapping.Document) *Route {
	m := d.Mapping
	rt := &Route{Name: d.Namespace + "/" + d.Name, Origins: []Origin{{Namespace: d.Namespace, Mapping: d.Name, Source: d.Source}},
		Match: buildMatch(m), HostRewrite: m.HostRewrite, AutoHostRewrite: m.AutoHostRewrite, Upgrades: m.Upgrades,
		RequestHeadersToAdd: m.AddRequestHeaders, ResponseHeadersToAdd: m.AddResponseHeaders,
		RequestHeadersToRemove: m.RemoveRequestHeaders, ResponseHeadersToRemove: m.RemoveResponseHeaders,
		CORS: m.CORS, RetryPolicy: m.RetryPolicy}
	if rt.CORS == nil {
		rt.CORS = r.module.CORS
	}
	if rt.RetryPolicy == nil {
		rt.RetryPolicy = r.module.RetryPolicy
	}
	rt.PrefixRewrite, rt.RegexRewrite = m.Rewrite, m.RegexRewrite
	if m.RegexRewrite != nil {
		rt.PrefixRewrite = nil // regex_rewrite wins, as in Emissary
	}
	rt.Timeout = r.timeout(m)
	if m.IdleTimeoutMs != nil {
		t := time.Duration(*m.IdleTimeoutMs) * time.Millisecond
		rt.IdleTimeout = &t
	}
	if m.LoadBalancer != nil && (m.LoadBalancer.Policy == "ring_hash" || m.LoadBalancer.Policy == "maglev") {
		rt.HashPolicy = m.LoadBalancer
	}
	if m.Redirect != nil {
		rt.Redirect = buildRedirect(m)
	} else if c := r.cluster(d, m.Service, r.clusterOptions(d)); c != nil {
		rt.Clusters = []WeightedCluster{{Cluster: c.Name, Weight: 100}}
	}
	rt.Auth = r.routeAuth(d)
	rt.RateLimits = r.rateLimits(d)
	rt.LocalRateLimit = m.LocalRateLimit
	return rt
}

func (r *resolver) timeout(m *mapping.Mapping) time.Duration {
	ms := int64(mapping.DefaultTimeoutMs)
	switch {
	case m.TimeoutMs != nil:
		ms = *m.TimeoutMs
	case r.module.ClusterRequestTimeoutMs != nil:
		ms = *r.module.ClusterRequestTimeoutMs
	}
	return time.Duration(ms) * time.Millisecond
}

func (r *resolver) clusterOptions(d mapping.Document) clusterOptions {
	m := d.Mapping
	o := clusterOptions{tls: m.TLS, http2: m.GRPC, connectTimeoutMs: m.ConnectTimeoutMs, circuitBreakers: m.CircuitBreakers}
	if m.TLSContext != "" {
		o.origin = r.origin(d)
	}
	if o.circuitBreakers == nil {
		o.circuitBreakers = r.module.CircuitBreakers
	}
	if m.LoadBalancer != nil {
		o.lbPolicy = m.LoadBalancer.Policy
	}
	return o
}

func buildMatch(m *mapping.Mapping) Match {
	mt := Match{CaseSensitive: m.CaseSensitive, Query: m.Query}
	switch {
	case m.PrefixRegex:
		mt.Regex = m.Prefix
	case m.PrefixExact:
		mt.Path = m.Prefix
	default:
		mt.Prefix = m.Prefix
	}
	mt.Headers = slices.Clone(m.Headers)
	if m.Method != "" {
		mt.Headers = append(mt.Headers, mapping.KeyMatch{Name: ":method", Value: m.Method, Regex: m.MethodRegex})
	}
	if m.Host != "" && m.HostRegex {
		mt.Headers = append(mt.Headers, mapping.KeyMatch{Name: ":authority", Value: m.Host, Regex: true})
	}
	sort.SliceStable(mt.Headers, func(i, j int) bool { return mt.Headers[i].Name < mt.Headers[j].Name })
	return mt
}

func buildRedirect(m *mapping.Mapping) *Redirect {
	ref := m.Service
	rd := &Redirect{Host: ref.Host, Path: m.Redirect.Path, Prefix: m.Redirect.Prefix, Regex: m.Redirect.Regex, Code: m.Redirect.Code}
	if ref.Scheme == "https" {
		rd.Scheme = "https"
	}
	if (ref.Scheme == "https" && ref.Port != 443) || (ref.Scheme == "http" && ref.Port != 80) {
		rd.Port = uint32(ref.Port)
	}
	return rd
}

// Context extension keys every route sends to the auth service; user keys cannot override them.
const (
	ExtNamespace = "namespace"
	ExtService   = "service"
	ExtMapping   = "mapping"
)

func (r *resolver) routeAuth(d mapping.Document) *RouteAuth {
	if r.auth == nil {
		return nil
	}
	if d.Mapping.BypassAuth {
		return &RouteAuth{Disabled: true}
	}
	ext := map[string]string{ExtNamespace: d.Namespace, ExtMapping: d.Name}
	if d.Source.Kind == "Service" {
		ext[ExtService] = d.Source.Name
	}
	for k, v := range d.Mapping.AuthContextExtensions {
		if _, reserved := ext[k]; reserved || k == ExtService {
			r.report(d, mapping.SeverityWarning, mapping.ReasonInvalid, "auth_context_extensions."+k,
				"%q is set by kfgate and cannot be overridden; ignored", k)
			continue
		}
		ext[k] = v
	}
	return &RouteAuth{ContextExtensions: ext}
}
