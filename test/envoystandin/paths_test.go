package envoystandin_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/kfgate/kfgate/test/envoystandin"
)

// TestPathHygiene: kfgate's connection manager normalises paths, merges slashes and redirects
// escaped slashes before routing, so the route and the upstream see the same path.
func TestPathHygiene(t *testing.T) {
	_, port := startEcho(t)
	cp := startControlPlane(t)
	cp.apply(echoService(port, "---\napiVersion: getambassador.io/v2\nkind: Mapping\nname: echo\nprefix: /app/\nrewrite: /in/\nservice: echo\n"))
	e := startEnvoy(t, cp, envoystandin.Options{})
	waitRoutes(t, e, cp)
	addr := e.Addr(8080)
	for _, c := range []struct {
		target, upstream string
	}{
		{"/other/../app/x", "/in/x"},
		{"/app//x///y", "/in/x/y"},
		{"/app/./x/%2e%2e/y?q=/../", "/in/y?q=/../"},
		{"/app/%41%7e", "/in/A~"},
		{"/app/a%2eb", "/in/a%2eb"},
	} {
		resp := get(t, addr, c.target, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d, want 200", c.target, resp.StatusCode)
			continue
		}
		if got := decodeEcho(t, resp).Path; got != c.upstream {
			t.Errorf("%s reached the upstream as %q, want %q", c.target, got, c.upstream)
		}
	}
	for _, c := range []struct {
		target   string
		status   int
		location string
	}{
		{"/app/a%2Fb", http.StatusTemporaryRedirect, "/app/a/b"},
		{"/app/a%5c..%5cb", http.StatusTemporaryRedirect, "/app/b"},
		{"/app/%00", http.StatusBadRequest, ""},
		{"/app/a#b", http.StatusBadRequest, ""},
		{"/../../etc/passwd", http.StatusNotFound, ""},
	} {
		resp := get(t, addr, c.target, nil)
		if resp.StatusCode != c.status || resp.Header.Get("Location") != c.location {
			t.Errorf("%s: %d location %q, want %d %q", c.target, resp.StatusCode, resp.Header.Get("Location"), c.status, c.location)
		}
	}
	if n := len(e.State().Rejections); n != 0 {
		t.Fatal(fmt.Sprint(e.State().Rejections))
	}
}
