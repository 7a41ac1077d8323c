package authn

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/kfgate/kfgate/authn/session"
)

// namespaces is a NamespaceChecker that allows users in the namespaces listed for them (the real
// access.Checker is tested against an API server in its own package).
type namespaces struct {
	allowed map[string][]string
	err     error
	asked   []string
}

func (n *namespaces) Allowed(_ context.Context, user string, _ []string, ns string) (bool, string, error) {
	n.asked = append(n.asked, ns)
	if n.err != nil {
		return false, "", n.err
	}
	for _, a := range n.allowed[user] {
		if a == ns {
			return true, "bound", nil
		}
	}
	return false, "no binding", nil
}

// withSessionCookie returns a Cookie header holding a valid session of a.
func withSessionCookie(t *testing.T, a *Authorizer) string {
	t.Helper()
	now := a.d.Now()
	id, err := session.NewID(a.d.Rand)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := a.d.Store.Save(context.Background(), &session.Session{
		ID: id, User: "alice@example.com", Groups: []string{"team-a"}, Subject: "alice", IDToken: "h.p.s",
		Expiry: now.Add(time.Hour), Created: now, LastSeen: now,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

func checkWith(t *testing.T, a *Authorizer, path, cookie string, ext map[string]string) *authv3.CheckResponse {
	t.Helper()
	resp, err := a.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: path, Host: "kf.example.com", Scheme: "https", Headers: map[string]string{"cookie": cookie, "accept": "*/*"},
		}},
		ContextExtensions: ext,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func code(resp *authv3.CheckResponse) int {
	if resp.GetOkResponse() != nil {
		return http.StatusOK
	}
	return int(resp.GetDeniedResponse().GetStatus().GetCode())
}

func TestNamespaceAccess(t *testing.T) {
	a := fuzzAuthorizer(t)
	ns := &namespaces{allowed: map[string][]string{"alice@example.com": {"kubeflow-user-alice"}}}
	a.d.Access = ns
	a.cfg.Authorization.ExemptNamespaces = []string{"kubeflow"}
	cookie := withSessionCookie(t, a)
	for _, c := range []struct {
		ns   string
		want int
	}{
		{"kubeflow-user-alice", http.StatusOK},
		{"kubeflow-user-bob", http.StatusForbidden},
		{"kubeflow", http.StatusOK}, // exempt: not asked
		{"", http.StatusOK},         // a route without a namespace (a file-source Mapping) is not checked
	} {
		ext := map[string]string{"service": "nb", "mapping": "m"}
		if c.ns != "" {
			ext["namespace"] = c.ns
		}
		if got := code(checkWith(t, a, "/notebook/x/", cookie, ext)); got != c.want {
			t.Errorf("namespace %q: %d, want %d", c.ns, got, c.want)
		}
	}
	if strings.Join(ns.asked, ",") != "kubeflow-user-alice,kubeflow-user-bob" {
		t.Errorf("asked about %v", ns.asked)
	}
	ns.err = errors.New("API server unreachable")
	if got := code(checkWith(t, a, "/notebook/x/", cookie, map[string]string{"namespace": "kubeflow-user-alice"})); got != http.StatusServiceUnavailable {
		t.Errorf("review failing: %d, want 503", got)
	}
}

func TestForwardIDToken(t *testing.T) {
	a := fuzzAuthorizer(t)
	a.cfg.Identity.ForwardIDToken = true
	a.resp = newResponder(a.cfg.Identity)
	resp := checkWith(t, a, "/", withSessionCookie(t, a), nil)
	var got string
	for _, h := range resp.GetOkResponse().GetHeaders() {
		if h.GetHeader().GetKey() == "authorization" {
			got = h.GetHeader().GetValue()
		}
	}
	if got != "Bearer h.p.s" {
		t.Fatalf("authorization upstream %q, want the session's ID token", got)
	}
}
