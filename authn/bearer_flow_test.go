package authn_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kfgate/kfgate/authn"
	"github.com/kfgate/kfgate/authn/bearer"
	"github.com/kfgate/kfgate/test/oidcprovider"
)

func withBearer(prefix string) func(*authn.Config) {
	return func(c *authn.Config) {
		c.Bearer.Issuers = []bearer.Issuer{{URL: c.OIDC.Issuer, Audiences: []string{oidcprovider.TokensClientID}, UserPrefix: prefix}}
	}
}

func TestBearerTokens(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{}, withBearer(""))
	tokens, err := w.idp.Tokens(t.Context(), user.Email, user.Password)
	if err != nil {
		t.Fatal(err)
	}
	b := w.browser()
	resp := b.check("GET", "/apis/v2beta1/runs", map[string]string{
		"authorization": "Bearer " + tokens.IDToken, "kubeflow-userid": "admin@evil.com", "kubeflow_groups": "admins",
	}, nil)
	up := upstream(t, b.sent, resp)
	if up["kubeflow-userid"] != user.Email || up["kubeflow-groups"] != "admins,users" {
		t.Fatalf("bearer identity upstream %q %q", up["kubeflow-userid"], up["kubeflow-groups"])
	}
	if _, ok := up["kubeflow_groups"]; ok {
		t.Fatal("a spoofed kubeflow_groups reached the app")
	}

	// An invalid token is a 401, even from a browser with a valid session: never a silent fallback.
	location(t, b.login("/", user), http.StatusFound)
	for name, tok := range map[string]string{
		"tampered":   tokens.IDToken[:len(tokens.IDToken)-4] + "AAAA",
		"garbage":    "not-a-jwt",
		"access tok": tokens.AccessToken, // opaque: not a JWT of a configured issuer
		"empty":      "",
	} {
		resp := b.check("GET", "/jupyter/", map[string]string{"accept": html, "authorization": "Bearer " + tok}, nil)
		if status(resp) != http.StatusUnauthorized || !strings.Contains(deniedHeader(resp, "www-authenticate"), "invalid_token") {
			t.Errorf("%s token: %d %q, want 401 invalid_token", name, status(resp), deniedHeader(resp, "www-authenticate"))
		}
	}
}

func TestBearerTokenOfAnotherAudience(t *testing.T) {
	w := newWorld(t, oidcprovider.Options{}, func(c *authn.Config) {
		c.Bearer.Issuers = []bearer.Issuer{{URL: c.OIDC.Issuer, Audiences: []string{"pipelines.kubeflow.org"}}}
	})
	tokens, err := w.idp.Tokens(t.Context(), user.Email, user.Password)
	if err != nil {
		t.Fatal(err)
	}
	if s := status(w.browser().check("GET", "/apis/", map[string]string{"authorization": "Bearer " + tokens.IDToken}, nil)); s != http.StatusUnauthorized {
		t.Fatalf("token for another audience: %d, want 401", s)
	}
}

func TestAllowedGroupsAndDomains(t *testing.T) {
	outsider := oidcprovider.User{ID: "user-2", Email: "eve@other.org", Password: "eve-password", Groups: []string{"guests"}}
	w := newWorld(t, oidcprovider.Options{Users: []oidcprovider.User{user, outsider}}, func(c *authn.Config) {
		c.Authorization.AllowedGroups = []string{"users"}
	})
	in, out := w.browser(), w.browser()
	location(t, in.login("/", user), http.StatusFound)
	location(t, out.login("/", outsider), http.StatusFound)
	if s := status(in.get("/")); s != http.StatusOK {
		t.Fatalf("member of an allowed group: %d", s)
	}
	resp := out.get("/")
	if status(resp) != http.StatusForbidden || !strings.Contains(resp.GetDeniedResponse().GetBody(), "<h1>Access denied</h1>") {
		t.Fatalf("outsider: %d %q", status(resp), resp.GetDeniedResponse().GetBody())
	}

	w2 := newWorld(t, oidcprovider.Options{Users: []oidcprovider.User{user, outsider}}, func(c *authn.Config) {
		c.Authorization.AllowedEmailDomains = []string{"Example.com"}
	})
	in, out = w2.browser(), w2.browser()
	location(t, in.login("/", user), http.StatusFound)
	location(t, out.login("/", outsider), http.StatusFound)
	if s := status(in.get("/")); s != http.StatusOK {
		t.Fatalf("allowed domain: %d", s)
	}
	if s := status(out.get("/")); s != http.StatusForbidden {
		t.Fatalf("other domain: %d, want 403", s)
	}
}
