package mapping

import (
	"strings"
	"testing"
)

// Each document is refused from a tenant's namespace, with the field named, and accepted from a
// trusted namespace and from a file's bare documents.
func TestTrust(t *testing.T) {
	opts := Options{Trusted: func(ns string) bool { return ns == "kubeflow" }}
	const head = "apiVersion: getambassador.io/v2\nkind: Mapping\nname: m\nprefix: /team-a/p/\n"
	const bare = "apiVersion: getambassador.io/v2\nkind: Mapping\nname: m\nservice: app\n"
	cases := []struct{ doc, field string }{
		{head + "service: app\nbypass_auth: true\n", "bypass_auth"},
		{head + "service: app\nhost: kubeflow.example.com\n", "host"},
		{head + "service: app\nprecedence: 1\n", "precedence"},
		{head + "service: centraldashboard.kubeflow:80\n", "service"},
		{head + "service: centraldashboard.kubeflow.svc.cluster.local:80\n", "service"},
		{head + "service: example.org\n", "service"},
		{head + "service: 10.0.0.1:80\n", "service"},
		{head + "service: app\nadd_request_headers: {Kubeflow-Userid: admin}\n", "add_request_headers"},
		{head + "service: app\nadd_request_headers: {x-forwarded-for: 1.2.3.4}\n", "add_request_headers"},
		{head + "service: app\nremove_request_headers: [authorization]\n", "remove_request_headers"},
		{head + "service: app\nadd_request_headers: {kubeflow_userid: admin}\n", "add_request_headers"},
		{head + "service: app\nshadow: true\n", "shadow"},
		{head + "service: app\nlabels: {ambassador: [{request_label: [backend]}]}\n", "labels"},
		{head + "service: app\nhost_rewrite: victim-predictor.team-b.svc.cluster.local\n", "host_rewrite"},
		{head + "service: app\nhost_rewrite: example.org\n", "host_rewrite"},
		{head + "service: app\nhost_redirect: true\n", "redirect"},
		// Paths outside the tenant's spaces: the shared apps', Dex's, another namespace's.
		{bare + "prefix: /\n", "prefix"},
		{bare + "prefix: /dex/auth/local/\n", "prefix"},
		{bare + "prefix: /jupyter/api/\n", "prefix"},
		{bare + "prefix: /notebook/team-b/jupyter/\n", "prefix"},
		{bare + "prefix: /team-ab/\n", "prefix"},
		{bare + "prefix: /Team-A/x/\ncase_sensitive: true\n", "prefix"},
		{bare + "prefix: /JUPYTER/\ncase_sensitive: false\n", "prefix"},
		{bare + "prefix: \"/.*\"\nprefix_regex: true\n", "prefix"},
		{bare + "prefix: \"/team-a|/jupyter/.*\"\nprefix_regex: true\n", "prefix"},
		{"apiVersion: getambassador.io/v2\nkind: Module\nname: ambassador\nconfig: {}\n", "kind"},
		{"apiVersion: getambassador.io/v2\nkind: AuthService\nname: a\nauth_service: app:9191\nproto: grpc\n", "kind"},
		{"apiVersion: getambassador.io/v2\nkind: TLSContext\nname: t\nhosts: [a.example.com]\nsecret: s\n", "hosts"},
	}
	for _, c := range cases {
		tenant := Source{Kind: "Service", Namespace: "team-a", Name: "app", Key: AnnotationKfgate}
		docs, diags := Decode(tenant, c.doc, opts)
		if len(docs) != 0 || len(diags) != 1 || diags[0].Reason != ReasonUntrusted || diags[0].Field != c.field ||
			!strings.Contains(diags[0].Message, "namespace team-a is not trusted") {
			t.Errorf("tenant %q: docs %d, diags %v; want one %s error on %s", c.doc, len(docs), diags, ReasonUntrusted, c.field)
		}
		trusted := tenant
		trusted.Namespace = "kubeflow"
		for _, src := range []Source{trusted, {File: "routes.yaml"}} {
			for _, d := range mustNotRefuse(t, src, c.doc, opts) {
				t.Errorf("%s %q: %s", src.Object(), c.doc, d)
			}
		}
	}
	// What a tenant may do: its own Services, in any spelling, with its own headers, TLS to them.
	for _, doc := range []string{
		head + "service: app\n",
		head + "service: app\nhost_rewrite: app-predictor.team-a.svc\n",
		bare + "prefix: /notebook/team-a/jupyter/\nuse_websocket: true\n",
		bare + "prefix: /models/mnist/\n",
		bare + "prefix: \"/models/mnist(/versions/[0-9]+)?/?\"\nprefix_regex: true\n",
		bare + "prefix: /TEAM-A/x/\ncase_sensitive: false\n",
		head + "service: app.team-a:8080\n",
		head + "service: https://app.team-a.svc.cluster.local\n",
		head + "service: app\nadd_request_headers: {x-team: a}\nremove_request_headers: [x-debug]\nrewrite: /\ntimeout_ms: 5000\n",
		"apiVersion: getambassador.io/v2\nkind: TLSContext\nname: t\nsecret: s\nsni: app.team-a\n",
	} {
		docs, diags := Decode(Source{Kind: "Service", Namespace: "team-a", Name: "app", Key: AnnotationKfgate}, doc, opts)
		if len(diags) != 0 || len(docs) != 1 || !docs[0].Source.Tenant {
			t.Errorf("tenant %q refused: %v", doc, diags)
		}
	}
	// Without Options.Trusted every namespace is trusted.
	if docs, diags := Decode(Source{Kind: "Service", Namespace: "team-a", Name: "app"}, cases[0].doc, Options{}); len(diags) != 0 || docs[0].Source.Tenant {
		t.Errorf("no trusted namespaces configured: %v", diags)
	}
}

func mustNotRefuse(t *testing.T, src Source, doc string, opts Options) []Diagnostic {
	t.Helper()
	_, diags := Decode(src, doc, opts)
	var out []Diagnostic
	for _, d := range diags {
		if d.Reason == ReasonUntrusted {
			out = append(out, d)
		}
	}
	return out
}

func TestGatewayHeader(t *testing.T) {
	for _, h := range []string{"kubeflow-userid", "kubeflow-groups", "authorization", "cookie", "x-forwarded-proto", "x-envoy-original-path", "host", "x-auth-request-email"} {
		if !GatewayHeader(h) {
			t.Errorf("%s is not the gateway's", h)
		}
	}
	for _, h := range []string{"x-rstudio-root-path", "x-team", "accept", "kubeflowuserid"} {
		if GatewayHeader(h) {
			t.Errorf("%s is the gateway's", h)
		}
	}
}
