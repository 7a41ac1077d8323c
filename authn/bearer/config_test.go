package bearer

import (
	"strings"
	"testing"
	"time"
)

func TestValidateDefaults(t *testing.T) {
	c := Config{
		Issuers:    []Issuer{{URL: "https://dex.example/dex", Audiences: []string{"kfgate"}}},
		Kubernetes: Kubernetes{Mode: ModeTokenReview, Issuer: "https://kubernetes.default.svc.cluster.local"},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	is := c.Issuers[0]
	if is.UserClaim != "email" || is.GroupsClaim != "groups" || c.Leeway != 60*time.Second || c.Kubernetes.CacheTTL != 10*time.Second {
		t.Fatalf("defaults not filled: %+v", c)
	}
	// Set values stay.
	c = Config{Leeway: time.Second, Issuers: []Issuer{{URL: "http://dex.auth.svc.cluster.local:5556/dex", Audiences: []string{"a"},
		UserClaim: "sub", GroupsClaim: "roles"}}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Leeway != time.Second || c.Issuers[0].UserClaim != "sub" || c.Issuers[0].GroupsClaim != "roles" {
		t.Fatalf("values changed: %+v", c)
	}
}

func TestValidateErrors(t *testing.T) {
	ok := Issuer{URL: "https://dex.example", Audiences: []string{"kfgate"}}
	cases := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"no audience", Config{Issuers: []Issuer{ok, {URL: "https://b.example"}}},
			[]string{"bearer.issuers[1].audiences: at least one audience is required"}},
		{"empty audience", Config{Issuers: []Issuer{{URL: "https://b.example", Audiences: []string{"a", " "}}}},
			[]string{"bearer.issuers[0].audiences[1]: must not be empty"}},
		{"no url", Config{Issuers: []Issuer{{Audiences: []string{"a"}}}}, []string{"bearer.issuers[0].url: required"}},
		{"relative url", Config{Issuers: []Issuer{{URL: "dex.example", Audiences: []string{"a"}}}},
			[]string{"bearer.issuers[0].url: \"dex.example\": want an absolute http(s) URL"}},
		{"url with query", Config{Issuers: []Issuer{{URL: "https://dex.example/?x=1", Audiences: []string{"a"}}}},
			[]string{"bearer.issuers[0].url", "query"}},
		{"duplicate", Config{Issuers: []Issuer{ok, ok}}, []string{"bearer.issuers[1].url: \"https://dex.example\" is already bearer.issuers[0]"}},
		{"bad discovery url", Config{Issuers: []Issuer{{URL: "https://a.example", Audiences: []string{"a"}, DiscoveryURL: "ftp://x"}}},
			[]string{"bearer.issuers[0].discoveryURL"}},
		{"negative leeway", Config{Leeway: -time.Second}, []string{"bearer.leeway: must not be negative"}},
		{"unknown mode", Config{Kubernetes: Kubernetes{Mode: "webhook"}}, []string{`bearer.kubernetes.mode: "webhook" is not one of`}},
		{"discovery without issuer", Config{Kubernetes: Kubernetes{Mode: ModeDiscovery, Audiences: []string{"a"}}},
			[]string{"bearer.kubernetes.issuer: required"}},
		{"discovery without audience", Config{Kubernetes: Kubernetes{Mode: ModeDiscovery, Issuer: "https://kubernetes.default.svc"}},
			[]string{"bearer.kubernetes.audiences: at least one audience is required"}},
		{"kubernetes issuer twice", Config{Issuers: []Issuer{ok}, Kubernetes: Kubernetes{Mode: ModeDiscovery, Issuer: ok.URL, Audiences: []string{"a"}}},
			[]string{"bearer.kubernetes.issuer: \"https://dex.example\" is already bearer.issuers[0]"}},
		{"discoveryURL in tokenreview mode", Config{Kubernetes: Kubernetes{Mode: ModeTokenReview, Issuer: "https://k", DiscoveryURL: "https://k"}},
			[]string{"bearer.kubernetes.discoveryURL: only used in discovery mode"}},
		{"negative cache TTL", Config{Kubernetes: Kubernetes{Mode: ModeTokenReview, Issuer: "https://k", CacheTTL: -1}}, []string{"bearer.kubernetes.cacheTTL"}},
		{"several at once", Config{Issuers: []Issuer{{URL: "x"}}, Leeway: -1},
			[]string{"bearer.leeway", "bearer.issuers[0].url", "bearer.issuers[0].audiences"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	// tokenreview mode needs no audiences, but an issuer.
	if err := (&Config{Kubernetes: Kubernetes{Mode: ModeTokenReview}}).Validate(); err == nil || !strings.Contains(err.Error(), "bearer.kubernetes.issuer") {
		t.Fatalf("tokenreview mode without an issuer: %v", err)
	}
	c := Config{Kubernetes: Kubernetes{Mode: ModeTokenReview, Issuer: "https://kubernetes.default.svc.cluster.local"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := New(c, Options{}); err == nil || !strings.Contains(err.Error(), "TokenReview client") {
		t.Fatalf("tokenreview mode without a client: %v", err)
	}
}
