package authn_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kfgate/kfgate/authn"
	"github.com/kfgate/kfgate/test/oidcprovider"
	"github.com/kfgate/kfgate/test/redisserver"
)

func TestRedisSessions(t *testing.T) {
	rs := redisserver.Start(t)
	w := newWorld(t, oidcprovider.Options{}, func(c *authn.Config) {
		c.Session.Store = "redis"
		c.Session.Redis.Address = rs.Addr
	})
	b := w.browser()
	location(t, b.login("/", user), http.StatusFound)
	c := b.jar["__Host-kfgate-session"]
	if c == nil || len(c.Value) != 43 {
		t.Fatalf("redis session cookie %+v: want only the 43-character ID", c)
	}
	if s := status(b.get("/")); s != http.StatusOK {
		t.Fatalf("with a redis session: %d", s)
	}
	// A second replica sharing Redis knows the session (and the state ledger).
	w2 := startServer(t, w.cfg, w.idp)
	b.w = w2
	if s := status(b.get("/")); s != http.StatusOK {
		t.Fatalf("another replica: %d", s)
	}
	// Logout revokes it server-side: the old cookie, replayed, is worthless.
	saved := *c
	location(t, b.get("/authservice/logout"), http.StatusFound)
	b.jar[saved.Name] = &saved
	if s := status(b.check("GET", "/", map[string]string{"accept": "*/*"}, nil)); s != http.StatusUnauthorized {
		t.Fatalf("revoked session replayed: %d, want 401", s)
	}

	// Redis down: a 503 that says so, not a logout and not a login loop.
	location(t, b.login("/", user), http.StatusFound)
	rs.Stop()
	resp := b.get("/")
	if status(resp) != http.StatusServiceUnavailable || !strings.Contains(resp.GetDeniedResponse().GetBody(), "session") {
		t.Fatalf("redis down: %d", status(resp))
	}
	if _, ok := b.cookies()["__Host-kfgate-session"]; !ok {
		t.Fatal("redis down cleared the session cookie")
	}
}
