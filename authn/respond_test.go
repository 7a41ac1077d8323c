package authn

import (
	"flag"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	"github.com/kfgate/kfgate/test/golden"
)

var update = flag.Bool("update", false, "rewrite testdata/respond/*.yaml from the current output and delete stale ones")

// The CheckResponses kfgate sends, as golden files: what Envoy will do with each is read off them.
func TestRespondGolden(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	names := newCookieNames(SessionConfig{Secure: true})
	sessionCookie := names.cookie("__Host-kfgate-session", "c2VhbGVk", 12*time.Hour, now)
	owns := func(n string) bool { return strings.HasPrefix(n, "__Host-kfgate-") }
	browser := map[string]string{
		":authority": "kf.example.com", ":path": "/jupyter/", "accept": "text/html",
		"cookie":          "app=1; __Host-kfgate-session=c2VhbGVk",
		"kubeflow-userid": "spoof@evil.com", "kubeflow_groups": "admins",
	}
	cases := map[string]struct {
		r *Request
		o Outcome
	}{
		"allow-session": {&Request{Method: "GET", Headers: browser},
			allow(&Identity{User: "user@example.com", Groups: []string{"a", "b"}, Via: "session"}, reasonSession)},
		"allow-session-touched": {&Request{Method: "GET", Headers: browser}, Outcome{Kind: Allow, Reason: reasonSession,
			Identity: &Identity{User: "user@example.com"}, Cookies: []*http.Cookie{sessionCookie}}},
		"allow-skip-auth": {&Request{Method: "GET", Headers: browser}, allow(nil, reasonSkip)},
		"login-redirect": {&Request{Method: "GET", Headers: browser}, redirect("https://idp.example.com/auth?state=s", reasonLogin,
			names.cookie("__Host-kfgate-session", "", 0, now), names.cookie("__Host-kfgate-flow-0123456789abcdef", "c2VhbGVk", 10*time.Minute, now))},
		"unauthorized":      {&Request{Method: "GET", Headers: browser}, unauthorized(reasonNoSession, "Sign in, or send a bearer token.")},
		"unauthorized-head": {&Request{Method: "HEAD", Headers: browser}, unauthorized(reasonBearerInvalid, "The bearer token is not valid.")},
		"unavailable":       {&Request{Method: "GET", Headers: browser}, unavailable(reasonIDPUnavailable, "The identity provider <b>cannot</b> be reached.")},
		"logout-post": {&Request{Method: "POST", Headers: browser}, Outcome{Kind: Page, Status: http.StatusCreated, Reason: reasonLogout,
			JSON: `{"afterLogoutURL":"https://idp.example.com/logout"}`, Cookies: []*http.Cookie{names.cookie("__Host-kfgate-session", "", 0, now)}}},
	}
	rs := newResponder(Defaults().Identity)
	seen := map[string]bool{}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			resp := rs.respond(c.r, c.o, owns)
			if err := resp.ValidateAll(); err != nil {
				t.Fatalf("invalid CheckResponse: %v", err)
			}
			js, err := protojson.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			got, err := yaml.JSONToYAML(js)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join("testdata", "respond", name+".yaml")
			seen[file] = true
			golden.Compare(t, file, got, *update, "go test ./authn -run TestRespondGolden -update")
		})
	}
	golden.Stale(t, filepath.Join("testdata", "respond", "*.yaml"), seen, *update, "go test ./authn -run TestRespondGolden -update")
}
