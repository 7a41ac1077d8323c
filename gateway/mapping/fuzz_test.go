package mapping

import (
	"net"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fuzzSeeds are realistic and broken annotation texts; testdata/fuzz/FuzzDecode holds more.
var fuzzSeeds = []string{
	// A realistic Kubeflow-style annotation: several documents, most fields.
	`---
apiVersion: getambassador.io/v2
kind: Mapping
name: jupyter-web-app
prefix: /jupyter/
rewrite: /
service: jupyter-web-app-service.kubeflow:80
timeout_ms: 300000
use_websocket: true
add_request_headers:
  x-forwarded-prefix: /jupyter
  x-static: {value: "1", append: false}
remove_response_headers: [server]
cors:
  origins: https://a.example.com,https://b.example.com
  methods: [GET, POST]
  max_age: "86400"
retry_policy: {retry_on: "5xx,reset", num_retries: 3, per_try_timeout: 2s}
circuit_breakers:
- {priority: default, max_connections: 1024}
load_balancer: {policy: ring_hash, cookie: {name: sticky, ttl: 1h}}
---
apiVersion: getambassador.io/v2
kind: Mapping
name: api-v2
prefix: "^/api/v[0-9]+/"
prefix_regex: true
method: GET|HEAD
method_regex: true
host: "*.example.com"
headers: {x-canary: "true", x-present: true}
regex_headers: {x-version: "^v2"}
query_parameters: {debug: "1"}
regex_rewrite: {pattern: "^/api/(.*)", substitution: "/\\1"}
service: https://api.team.svc.cluster.local:8443
weight: 25
precedence: 10
ambassador_id: [default, _automatic_]
`,
	// Module and AuthService, CRD-shaped.
	`apiVersion: getambassador.io/v2
kind: Module
metadata: {name: ambassador}
spec:
  config:
    use_remote_address: false
    xff_num_trusted_hops: 1
    regex_max_size: 400
    cluster_request_timeout_ms: 5000
---
apiVersion: getambassador.io/v2
kind: AuthService
name: authn
auth_service: "authn.istio-system:8080"
proto: grpc
status_on_error: {code: 503}
include_body: {max_bytes: 8192, allow_partial: true}
allowed_request_headers: [x-user]
`,
	// Anchors, aliases and a merge key.
	"base: &b {prefix: /a/, service: a}\napiVersion: &v getambassador.io/v2\nkind: Mapping\nname: &n a\n<<: *b\nhost_rewrite: *n\nadd_request_headers: {x-a: *v}\nremove_request_headers: [&h x-h, *h]\n",
	// Alias bomb.
	"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\napiVersion: getambassador.io/v2\nkind: Mapping\nname: bomb\nprefix: /b/\nservice: b\nallow_upgrade: *d\n",
	// Deeply nested flow collections.
	"apiVersion: getambassador.io/v2\nkind: Mapping\nname: deep\nprefix: /d/\nservice: d\ncors: " + strings.Repeat("{a: ", 200) + "x" + strings.Repeat("}", 200) + "\nheaders: " + strings.Repeat("[", 300) + strings.Repeat("]", 300) + "\n",
	// Huge and odd numbers.
	"apiVersion: getambassador.io/v2\nkind: Mapping\nname: nums\nprefix: /n/\nservice: n:99999999999999999999\nweight: 1e400\ntimeout_ms: 0x7fffffffffffffff\nidle_timeout_ms: -0\nconnect_timeout_ms: 1_000\nprecedence: -9223372036854775809\ncors: {max_age: .inf}\nretry_policy: {num_retries: 0o17, per_try_timeout: NaN}\n",
	// Tabs, CRLF and document marker edge cases.
	"---\t{apiVersion: getambassador.io/v2, kind: Mapping, name: t, prefix: /t/, service: t}\r\n--- # c\r\napiVersion: getambassador.io/v2\r\nkind: Mapping\r\nname: crlf\r\nprefix:\t/c/\r\nservice: c\r\n...\r\n---\n\tname: tab\n",
	"--- |\n  apiVersion: getambassador.io/v2\n---\n...\n----\n--- >\n  folded\n...   # end\napiVersion: x\n---- {a: b}\n--- [1, 2]\n",
	// Broken YAML next to a valid document.
	"apiVersion: getambassador.io/v2\nkind: Mapping\nname: ok\nprefix: /ok/\nservice: ok\n---\nprefix: [/broken/\nkind: \"unterminated\n---\n: : :\n---\n{a: b, a: c}\n",
	// Directives, tags and strange scalars.
	"%YAML 1.1\n%TAG ! tag:example.com,2000:\n--- !!map\napiVersion: !!str getambassador.io/v2\nkind: !local Mapping\nname: !!binary YWJj\nprefix: !!timestamp 2001-12-14\nservice: !!null\n",
	// Keys that are not strings, duplicates, nulls.
	"? [a, b]\n: c\n? {x: y}\n: d\napiVersion: getambassador.io/v2\nkind: Mapping\nkind: Module\nname: ~\nprefix:\nservice: null\n",
	// Not mappings at all.
	"- a\n- b\n---\n\"just a string\"\n---\n42\n---\n~\n---\n!!binary AAAA\n",
	// NUL bytes and invalid UTF-8.
	"apiVersion: getambassador.io/v2\nkind: Mapping\nname: \"a\\0b\"\nprefix: \"/\\xff/\"\nservice: a\nadd_request_headers: {x-a: \"a\\r\\nb\"}\n\xff\xfe",
	// Every kind and apiVersion.
	"apiVersion: getambassador.io/v2\nkind: TLSContext\nname: tc\nhosts: [a.example.com, \"*.b.example.com\"]\nsecret: s\nalpn_protocols: h2,http/1.1\nmin_tls_version: v1.2\ncipher_suites: [\"[ECDHE-RSA-AES128-GCM-SHA256|ECDHE-RSA-CHACHA20-POLY1305]\"]\nredirect_cleartext_from: 8080\n---\n" +
		"apiVersion: getambassador.io/v2\nkind: RateLimitService\nname: rl\nservice: rls:8081\ndomain: d\n---\n" +
		"apiVersion: getambassador.io/v2\nkind: Mapping\nname: m\nprefix: /\nservice: s\ntls: origin\nlocal_rate_limit: {requests: 5, per: minute}\nlabels: {ambassador: [{g: [remote_address, lit, {request_headers: {header_name: x-u}}, {x-k: {header: x-k}}]}]}\n",
	"apiVersion: ambassador/v0\nkind: TLSContext\nname: t\n---\napiVersion: kfgate.io/v1\nkind: RateLimitService\nname: r\n---\napiVersion: getambassador.io/v3alpha1\nkind: Host\nname: h\n---\nkind: Mapping\n",
	"",
}

func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	src := Source{Kind: "Service", Namespace: "ns", Name: "svc", Key: "getambassador.io/config"}
	f.Fuzz(func(t *testing.T, text string) {
		docs, diags := Decode(src, text, Options{})

		// Decoding is deterministic.
		docs2, diags2 := Decode(src, text, Options{})
		if !reflect.DeepEqual(docs, docs2) || !reflect.DeepEqual(diags, diags2) {
			t.Fatalf("two decodes of the same text differ")
		}

		for _, d := range diags {
			checkDiagnostic(t, d, src)
		}
		// From a tenant's namespace, the documents are a subset of the trusted decode's, each one a
		// tenant may carry, and every refusal is an UntrustedNamespace error.
		tenantDocs, tenantDiags := Decode(src, text, Options{Trusted: func(string) bool { return false }})
		if len(tenantDocs) > len(docs) || len(tenantDiags) < len(diags) {
			t.Fatalf("a tenant's decode has %d documents and %d diagnostics, the trusted one %d and %d", len(tenantDocs), len(tenantDiags), len(docs), len(diags))
		}
		for _, d := range tenantDocs {
			checkTenantDocument(t, d)
		}
		var others []Diagnostic
		for _, d := range tenantDiags {
			if d.Reason != ReasonUntrusted {
				others = append(others, d)
			}
		}
		if len(others) != len(diags) || (len(diags) > 0 && !reflect.DeepEqual(others, diags)) {
			t.Fatalf("a tenant's decode reports %v besides its refusals, the trusted one %v", others, diags)
		}
		if len(text) > MaxAnnotationBytes {
			if len(docs) != 0 || len(diags) != 1 || diags[0].Reason != ReasonTooLarge {
				t.Fatalf("oversized annotation: %d documents, diagnostics %v", len(docs), diags)
			}
			return
		}

		chunks := SplitDocuments(text)
		for i, d := range docs {
			if d.Index < 0 || d.Index >= len(chunks) || (i > 0 && d.Index <= docs[i-1].Index) {
				t.Fatalf("document %d has index %d (%d chunks, previous %+v)", i, d.Index, len(chunks), docs[max(i-1, 0)].Index)
			}
			checkDocument(t, d, src)
		}

		// Each chunk decodes on its own exactly as it does within the text, and a chunk that yields an
		// error diagnostic yields no document.
		var all []Diagnostic
		next := 0
		for i, c := range chunks {
			if again := SplitDocuments(c.Text); len(again) != 1 || again[0].Text != c.Text {
				t.Fatalf("chunk %d %q splits again into %+v", i, c.Text, again)
			}
			cdocs, cdiags := Decode(src, c.Text, Options{})
			all = append(all, cdiags...)
			var want []Document
			if next < len(docs) && docs[next].Index == i {
				d := docs[next]
				d.Index = 0
				want = []Document{d}
				next++
			}
			if !reflect.DeepEqual(cdocs, want) {
				t.Fatalf("chunk %d decodes alone to %+v, within the text to %+v", i, cdocs, want)
			}
			if HasErrors(cdiags) && len(cdocs) > 0 {
				t.Fatalf("chunk %d: a document is returned along with errors %v", i, cdiags)
			}
			if len(cdocs) > 1 {
				t.Fatalf("chunk %d yields %d documents", i, len(cdocs))
			}
		}
		// Messages name lines within the whole annotation, so a chunk alone counts from 1.
		if !reflect.DeepEqual(withoutLines(all), withoutLines(diags)) && (len(all) > 0 || len(diags) > 0) {
			t.Fatalf("diagnostics per chunk %v differ from the text's %v", all, diags)
		}
	})
}

var validSeverities = []Severity{SeverityError, SeverityWarning, SeverityInfo}

func checkDiagnostic(t *testing.T, d Diagnostic, src Source) {
	t.Helper()
	if d.Message == "" || d.Reason == "" || !slices.Contains(validSeverities, d.Severity) {
		t.Fatalf("incomplete diagnostic %#v", d)
	}
	if d.Source != src {
		t.Fatalf("diagnostic source %+v, want %+v", d.Source, src)
	}
	if d.Line != 0 {
		t.Fatalf("diagnostic without a file has line %d: %s", d.Line, d)
	}
	if d.String() == "" {
		t.Fatal("empty String()")
	}
}

func checkDocument(t *testing.T, d Document, src Source) {
	t.Helper()
	if d.Source != src {
		t.Fatalf("document source %+v", d.Source)
	}
	if d.Name == "" || d.Namespace == "" || !slices.Contains(APIVersions, d.APIVersion) {
		t.Fatalf("document header %+v", d)
	}
	set := 0
	for _, b := range []bool{d.Mapping != nil, d.Module != nil, d.AuthService != nil, d.TLSContext != nil, d.RateLimitService != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		t.Fatalf("document %s %q has %d of Mapping/Module/AuthService/TLSContext/RateLimitService set", d.Kind, d.Name, set)
	}
	switch d.Kind {
	case KindMapping:
		if d.Mapping == nil {
			t.Fatalf("Mapping document without a Mapping")
		}
		checkMapping(t, d.Mapping, d.Namespace)
	case KindModule:
		if d.Module == nil {
			t.Fatalf("Module document without a Module")
		}
		if m := d.Module; m.RegexMaxSize < 1 || m.RegexMaxSize > 1<<20 || m.XFFNumTrustedHops < 0 || m.XFFNumTrustedHops > 16 {
			t.Fatalf("module %+v", m)
		}
	case KindAuthService:
		a := d.AuthService
		if a == nil {
			t.Fatalf("AuthService document without an AuthService")
		}
		checkServiceRef(t, a.Service, d.Namespace)
		if a.StatusOnError < 100 || a.StatusOnError > 599 || a.TimeoutMs < 1 || (a.IncludeBody != nil && a.IncludeBody.MaxBytes < 1) {
			t.Fatalf("auth service %+v", a)
		}
	case KindTLSContext:
		c := d.TLSContext
		if len(c.Hosts) > 0 && c.Secret == "" || c.RedirectCleartextFrom < 0 || c.RedirectCleartextFrom > 65535 {
			t.Fatalf("TLSContext %+v", c)
		}
		for _, h := range c.Hosts {
			if !tlsHost.MatchString(h) {
				t.Fatalf("TLSContext host %q", h)
			}
		}
	case KindRateLimitService:
		checkServiceRef(t, d.RateLimitService.Service, d.Namespace)
		if d.RateLimitService.Domain == "" || d.RateLimitService.TimeoutMs < 1 {
			t.Fatalf("rate limit service %+v", d.RateLimitService)
		}
	default:
		t.Fatalf("document of kind %q", d.Kind)
	}
}

func checkMapping(t *testing.T, m *Mapping, namespace string) {
	t.Helper()
	if m.PrefixRegex {
		mustCompile(t, "prefix", m.Prefix)
	} else if !strings.HasPrefix(m.Prefix, "/") {
		t.Fatalf("prefix %q does not start with /", m.Prefix)
	}
	if m.MethodRegex {
		mustCompile(t, "method", m.Method)
	} else if m.Method != "" && !methodName.MatchString(m.Method) {
		t.Fatalf("method %q", m.Method)
	}
	if m.HostRegex {
		mustCompile(t, "host", m.Host)
	} else if m.Host != "" && checkHost(m.Host) != nil {
		t.Fatalf("host %q", m.Host)
	}
	for _, km := range append(slices.Clone(m.Headers), m.Query...) {
		if km.Regex {
			mustCompile(t, km.Name, km.Value)
		}
	}
	for _, km := range m.Headers {
		if !headerName.MatchString(km.Name) {
			t.Fatalf("header match name %q", km.Name)
		}
	}
	if m.RegexRewrite != nil {
		mustCompile(t, "regex_rewrite", m.RegexRewrite.Pattern)
	}
	if m.Rewrite != nil && !strings.HasPrefix(*m.Rewrite, "/") {
		t.Fatalf("rewrite %q", *m.Rewrite)
	}
	checkServiceRef(t, m.Service, namespace)
	if m.Weight != nil && (*m.Weight < 0 || *m.Weight > 100) {
		t.Fatalf("weight %d", *m.Weight)
	}
	for _, ms := range []*int64{m.TimeoutMs, m.IdleTimeoutMs} {
		if ms != nil && (*ms < 0 || *ms > maxMs) {
			t.Fatalf("timeout %d", *ms)
		}
	}
	if m.ConnectTimeoutMs < 1 || m.ConnectTimeoutMs > maxMs {
		t.Fatalf("connect timeout %d", m.ConnectTimeoutMs)
	}
	for _, hv := range append(slices.Clone(m.AddRequestHeaders), m.AddResponseHeaders...) {
		if !headerName.MatchString(hv.Name) || strings.HasPrefix(hv.Name, ":") || strings.ContainsAny(hv.Value, "\r\n\x00") {
			t.Fatalf("header to add %+v", hv)
		}
	}
	if r := m.Redirect; r != nil && !slices.Contains([]int{301, 302, 303, 307, 308}, r.Code) {
		t.Fatalf("redirect code %d", r.Code)
	}
	if c := m.CORS; c != nil {
		for _, o := range c.Origins {
			if o != "*" && !strings.Contains(o, "://") {
				t.Fatalf("cors origin %q", o)
			}
		}
	}
	if rp := m.RetryPolicy; rp != nil && rp.PerTryTimeout != "" {
		if _, err := ParseDuration(rp.PerTryTimeout); err != nil {
			t.Fatalf("per_try_timeout %q: %v", rp.PerTryTimeout, err)
		}
	}
}

func mustCompile(t *testing.T, what, expr string) {
	t.Helper()
	if _, err := regexp.Compile(expr); err != nil {
		t.Fatalf("%s %q was accepted but does not compile: %v", what, expr, err)
	}
}

// checkServiceRef: an accepted reference parses again to itself.
func checkServiceRef(t *testing.T, ref ServiceRef, namespace string) {
	t.Helper()
	again, err := ParseService(ref.Raw, namespace)
	if err != nil || again != ref {
		t.Fatalf("service %q was accepted as %+v but parses again to %+v, %v", ref.Raw, ref, again, err)
	}
	checkValidRef(t, ref)
}

func checkValidRef(t *testing.T, ref ServiceRef) {
	t.Helper()
	if ref.Scheme != "http" && ref.Scheme != "https" {
		t.Fatalf("scheme %q", ref.Scheme)
	}
	if ref.Port < 1 || ref.Port > 65535 {
		t.Fatalf("port %d", ref.Port)
	}
	if ref.Host == "" || ref.Host != strings.ToLower(ref.Host) || strings.ContainsAny(ref.Host, "/?#@[] \t\r\n") {
		t.Fatalf("host %q", ref.Host)
	}
	if ref.Name != "" {
		if !dnsLabel.MatchString(ref.Name) || !dnsLabel.MatchString(ref.Namespace) || !strings.HasPrefix(ref.Host, ref.Name) {
			t.Fatalf("in-cluster name %q namespace %q from host %q", ref.Name, ref.Namespace, ref.Host)
		}
	} else if ref.Qualified || ref.Namespace != "" {
		t.Fatalf("qualified or namespaced without a name: %+v", ref)
	}
	if ip := net.ParseIP(ref.Host); ip != nil && ref.Name != "" {
		t.Fatalf("an IP address %q is not a Service name", ref.Host)
	}
}

func FuzzParseService(f *testing.F) {
	for _, s := range []string{
		"app", "app:8080", "app.team", "app.team.svc", "app.team.svc.cluster.local:81", "https://app", "HTTP://App.Team:1",
		"httpbin.org", "https://www.example.com", "10.0.0.1:8080", "[::1]", "[::1]:8080", "https://[2001:db8::1]:9443",
		"", " ", "ftp://x", "://", "app/x", "app?q", "app#f", "u@app", "app:0", "app:65536", "app:", "[::1", "::1",
		"[fe80::1%eth0]:80", "app..team", "a_b", "[app]:80", "app:+80", "\x00", "https://[::ffff:1.2.3.4]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ref, err := ParseService(raw, "ns")
		if ref.Raw != raw {
			t.Fatalf("Raw %q, want %q", ref.Raw, raw)
		}
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		checkValidRef(t, ref)
		if ref.Name != "" && !strings.Contains(ref.Host, ".") && ref.Namespace != "ns" {
			t.Fatalf("a bare name must take the default namespace: %+v", ref)
		}
		// The canonical spelling parses to the same reference.
		canon := ref.Scheme + "://" + net.JoinHostPort(ref.Host, strconv.Itoa(ref.Port))
		again, err := ParseService(canon, "ns")
		again.Raw = ref.Raw
		if err != nil || again != ref {
			t.Fatalf("%q parses to %+v; its canonical form %q parses to %+v, %v", raw, ref, canon, again, err)
		}
	})
}

var annotationLine = regexp.MustCompile(`line \d+ of the annotation`)

func withoutLines(ds []Diagnostic) []Diagnostic {
	out := make([]Diagnostic, len(ds))
	for i, d := range ds {
		d.Message = annotationLine.ReplaceAllString(d.Message, "line N of the annotation")
		out[i] = d
	}
	return out
}

// checkTenantDocument asserts, independently of trust.go's rules, what a tenant's document must not do.
func checkTenantDocument(t *testing.T, d Document) {
	t.Helper()
	if !d.Source.Tenant {
		t.Fatal("a tenant's document is not marked")
	}
	switch d.Kind {
	case KindModule, KindAuthService, KindRateLimitService:
		t.Fatalf("a tenant's %s passed", d.Kind)
	case KindTLSContext:
		if len(d.TLSContext.Hosts) > 0 {
			t.Fatalf("a tenant's TLSContext serves hosts %v", d.TLSContext.Hosts)
		}
	case KindMapping:
		m := d.Mapping
		if m.BypassAuth || m.Host != "" || m.Precedence != 0 || m.Shadow || m.Redirect != nil || len(m.RateLimits) > 0 {
			t.Fatalf("a tenant's Mapping passed: %+v", m)
		}
		if m.Service.Name == "" || m.Service.Namespace != d.Namespace {
			t.Fatalf("a tenant's Mapping routes to %q", m.Service.Raw)
		}
		for _, h := range m.AddRequestHeaders {
			if n := strings.ReplaceAll(strings.ToLower(h.Name), "_", "-"); strings.HasPrefix(n, "kubeflow-") || n == "authorization" || n == "cookie" {
				t.Fatalf("a tenant's Mapping sets %s", h.Name)
			}
		}
		lit := m.Prefix
		if m.PrefixRegex {
			lit, _ = regexp.MustCompile(m.Prefix).LiteralPrefix()
		}
		lit = strings.ToLower(lit)
		ok := false
		for _, sp := range []string{"/" + d.Namespace + "/", "/notebook/" + d.Namespace + "/", "/models/"} {
			ok = ok || strings.HasPrefix(lit, sp)
		}
		if !ok {
			t.Fatalf("a tenant's Mapping matches %q", m.Prefix)
		}
	}
}
