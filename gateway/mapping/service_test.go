package mapping

import (
	"strings"
	"testing"
)

func TestParseService(t *testing.T) {
	type ref = ServiceRef
	for _, tc := range []struct {
		raw  string
		want ServiceRef // Raw is filled in from raw
	}{
		// In-cluster names.
		{"app", ref{Scheme: "http", Host: "app", Name: "app", Namespace: "ns", Qualified: true, Port: 80}},
		{"app:8080", ref{Scheme: "http", Host: "app", Name: "app", Namespace: "ns", Qualified: true, Port: 8080}},
		{"app.team", ref{Scheme: "http", Host: "app.team", Name: "app", Namespace: "team", Port: 80}},
		{"app.team:9000", ref{Scheme: "http", Host: "app.team", Name: "app", Namespace: "team", Port: 9000}},
		{"app.team.svc", ref{Scheme: "http", Host: "app.team.svc", Name: "app", Namespace: "team", Qualified: true, Port: 80}},
		{"app.team.svc:81", ref{Scheme: "http", Host: "app.team.svc", Name: "app", Namespace: "team", Qualified: true, Port: 81}},
		{"app.team.svc.cluster.local", ref{Scheme: "http", Host: "app.team.svc.cluster.local", Name: "app", Namespace: "team", Qualified: true, Port: 80}},
		{"app.team.svc.cluster.local:8443", ref{Scheme: "http", Host: "app.team.svc.cluster.local", Name: "app", Namespace: "team", Qualified: true, Port: 8443}},
		{"app.team.svc.corp.example", ref{Scheme: "http", Host: "app.team.svc.corp.example", Name: "app", Namespace: "team", Qualified: true, Port: 80}},
		{"App.Team", ref{Scheme: "http", Host: "app.team", Name: "app", Namespace: "team", Port: 80}},
		{"  app  ", ref{Scheme: "http", Host: "app", Name: "app", Namespace: "ns", Qualified: true, Port: 80}},
		{"a-1.b-2", ref{Scheme: "http", Host: "a-1.b-2", Name: "a-1", Namespace: "b-2", Port: 80}},
		{strings.Repeat("a", 63), ref{Scheme: "http", Host: strings.Repeat("a", 63), Name: strings.Repeat("a", 63), Namespace: "ns", Qualified: true, Port: 80}},

		// Schemes: https defaults to 443.
		{"http://app", ref{Scheme: "http", Host: "app", Name: "app", Namespace: "ns", Qualified: true, Port: 80}},
		{"https://app", ref{Scheme: "https", Host: "app", Name: "app", Namespace: "ns", Qualified: true, Port: 443}},
		{"https://app.team:8443", ref{Scheme: "https", Host: "app.team", Name: "app", Namespace: "team", Port: 8443}},
		{"HTTPS://APP", ref{Scheme: "https", Host: "app", Name: "app", Namespace: "ns", Qualified: true, Port: 443}},
		{"https://app:80", ref{Scheme: "https", Host: "app", Name: "app", Namespace: "ns", Qualified: true, Port: 80}},

		// External names: two labels may be a namespace or a domain (decided against known Services).
		{"httpbin.org", ref{Scheme: "http", Host: "httpbin.org", Name: "httpbin", Namespace: "org", Port: 80}},
		{"https://www.example.com", ref{Scheme: "https", Host: "www.example.com", Port: 443}},
		{"api.eu.example.com:8080", ref{Scheme: "http", Host: "api.eu.example.com", Port: 8080}},

		// Addresses.
		{"10.0.0.1", ref{Scheme: "http", Host: "10.0.0.1", Port: 80}},
		{"10.0.0.1:8080", ref{Scheme: "http", Host: "10.0.0.1", Port: 8080}},
		{"https://10.0.0.1", ref{Scheme: "https", Host: "10.0.0.1", Port: 443}},
		{"[::1]", ref{Scheme: "http", Host: "::1", Port: 80}},
		{"[::1]:8080", ref{Scheme: "http", Host: "::1", Port: 8080}},
		{"https://[2001:DB8::1]", ref{Scheme: "https", Host: "2001:db8::1", Port: 443}},
		{"https://[2001:db8::1]:9443", ref{Scheme: "https", Host: "2001:db8::1", Port: 9443}},

		// Port bounds.
		{"app:1", ref{Scheme: "http", Host: "app", Name: "app", Namespace: "ns", Qualified: true, Port: 1}},
		{"app:65535", ref{Scheme: "http", Host: "app", Name: "app", Namespace: "ns", Qualified: true, Port: 65535}},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			got, err := ParseService(tc.raw, "ns")
			if err != nil {
				t.Fatalf("ParseService(%q): %v", tc.raw, err)
			}
			tc.want.Raw = tc.raw
			if got != tc.want {
				t.Errorf("ParseService(%q)\n got %+v\nwant %+v", tc.raw, got, tc.want)
			}
			if got.TLS() != (got.Scheme == "https") {
				t.Errorf("TLS() = %v for scheme %q", got.TLS(), got.Scheme)
			}
		})
	}
}

func TestParseServiceErrors(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"", "must not be empty"},
		{"   ", "must not be empty"},
		{"ftp://app", `unsupported scheme "ftp"`},
		{"grpc://app:50051", `unsupported scheme "grpc"`},
		{"://app", `unsupported scheme ""`},
		{"app/", "without a path, query or fragment"},
		{"app/api", "without a path, query or fragment"},
		{"http://app/api", "without a path, query or fragment"},
		{"app?x=1", "without a path, query or fragment"},
		{"app#frag", "without a path, query or fragment"},
		{"user@app", "must not contain user information"},
		{"http://user:pw@app", "must not contain user information"},
		{"app:0", `port "0" must be a number from 1 to 65535`},
		{"app:65536", `port "65536" must be a number from 1 to 65535`},
		{"app:-1", `port "-1" must be a number from 1 to 65535`},
		{"app:http", `port "http" must be a number from 1 to 65535`},
		{"app:", `port "" must be a number from 1 to 65535`},
		{"app:80:81", `invalid host:port "app:80:81"`},
		{"::1", `invalid host:port "::1"`},
		{"[::1", `invalid host:port "[::1"`},
		{"http://", "host must not be empty"},
		{":8080", "host must not be empty"},
		{"[]", "brackets are only for IPv6 addresses"},
		{"app_1", `"app_1" is not a valid DNS name`},
		{"-app", `"-app" is not a valid DNS name`},
		{"app-", `"app-" is not a valid DNS name`},
		{"app..team", `"app..team" is not a valid DNS name`},
		{"app.team.", `"app.team." is not a valid DNS name`},
		{"my app", `"my app" is not a valid DNS name`},
		{strings.Repeat("a", 64), "is not a valid DNS name"},
		{"[fe80::1%eth0]:80", "brackets are only for IPv6 addresses"},
		{"[app", "brackets are only for IPv6 addresses"},
		{"[app]:80", "brackets are only for IPv6 addresses"},
		{"[[app]]", "brackets are only for IPv6 addresses"},
		{"[10.0.0.1]:80", "brackets are only for IPv6 addresses"},
		{"app:+80", `port "+80" must be a number from 1 to 65535`},
		{"app:0080", `port "0080" must be a number from 1 to 65535`},
		{"8080", `"8080" is a number, not a host name`},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			got, err := ParseService(tc.raw, "ns")
			if err == nil {
				t.Fatalf("ParseService(%q) = %+v, want an error containing %q", tc.raw, got, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseService(%q): %v, want %q", tc.raw, err, tc.want)
			}
			if got.Raw != tc.raw {
				t.Errorf("Raw = %q, want %q even on error", got.Raw, tc.raw)
			}
		})
	}
}

func TestParseServiceDefaultNamespace(t *testing.T) {
	got, err := ParseService("app", "kubeflow")
	if err != nil || got.Namespace != "kubeflow" || got.Name != "app" || !got.Qualified {
		t.Errorf("got %+v, %v", got, err)
	}
	got, err = ParseService("app.other", "kubeflow")
	if err != nil || got.Namespace != "other" || got.Qualified {
		t.Errorf("an explicit namespace wins: got %+v, %v", got, err)
	}
}

// TestServiceErrorsInDocuments checks how a bad service reaches the user: on the service field (or
// auth_service), quoting the value.
func TestServiceErrorsInDocuments(t *testing.T) {
	docs, diags := Decode(testSource, "apiVersion: getambassador.io/v2\nkind: Mapping\nname: a\nprefix: /a/\nservice: app:99999\n", Options{})
	if len(docs) != 0 || len(diags) != 1 || diags[0].Field != "service" || diags[0].Message != `"app:99999": port "99999" must be a number from 1 to 65535` {
		t.Errorf("Mapping: got %d documents, diagnostics %v", len(docs), diags)
	}
	docs, diags = Decode(testSource, "apiVersion: getambassador.io/v2\nkind: AuthService\nname: auth\nauth_service: http://auth/check\nproto: grpc\n", Options{})
	if len(docs) != 0 || len(diags) != 1 || diags[0].Field != "auth_service" || !strings.Contains(diags[0].Message, "without a path") {
		t.Errorf("AuthService: got %d documents, diagnostics %v", len(docs), diags)
	}
	// An address with a port.
	docs, diags = Decode(testSource, "apiVersion: getambassador.io/v2\nkind: Mapping\nname: a\nprefix: /a/\nservice: 10.0.0.1:80\n", Options{})
	if len(docs) != 1 || len(diags) != 0 || docs[0].Mapping.Service.Host != "10.0.0.1" {
		t.Errorf("got %d documents, diagnostics %v", len(docs), diags)
	}
}
