package build

import (
	"testing"

	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"

	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/gateway/xds"
	"github.com/kfgate/kfgate/test/routeeval"
)

// TestHTTPSRedirectSemantics asks the route evaluator what the cleartext and HTTPS route tables do
// with redirect_cleartext_from and HSTS: the TLS hosts (any case, any port, any subdomain of a
// wildcard) are redirected, other hosts are served, and only HTTPS responses carry HSTS.
func TestHTTPSRedirectSemantics(t *testing.T) {
	objs, err := source.LoadPaths("testdata/tls_redirect_cleartext_hsts.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := NewBuilder(Options{}).Build(objs)
	if err != nil {
		t.Fatal(err)
	}
	routers := map[string]*routeeval.Router{}
	for _, rc := range res.Resources.Routes {
		if routers[rc.GetName()], err = routeeval.Compile(rc); err != nil {
			t.Fatalf("%s: %v", rc.GetName(), err)
		}
	}
	clear, tls := routers[xds.RouteConfigName(8080)], routers[xds.HTTPSRouteConfigName(8443)]
	if clear == nil || tls == nil || len(routers) != 2 {
		t.Fatalf("route tables %v; want http-8080 and https-8443", routers)
	}
	for _, c := range []struct{ host, path, location string }{
		{"a.example.com", "/app/x?q=1", "https://a.example.com/app/x?q=1"},
		{"A.Example.COM:80", "/", "https://A.Example.COM/"},
		{"deep.x.b.example.com", "/app/", "https://deep.x.b.example.com/app/"},
		{"a.example.com:8080", "/app/", "https://a.example.com:8080/app/"},
	} {
		d := clear.Route(req("GET", c.host, c.path))
		if d.Redirect == nil || d.Redirect.Location != c.location || d.Redirect.Code != 301 || d.RouteName != xds.RedirectRouteName {
			t.Errorf("cleartext %s%s: %+v; want a 301 to %s", c.host, c.path, d, c.location)
		}
		if !authDisabled(d) {
			t.Errorf("cleartext %s%s: the redirect asks the auth service (a login over cleartext)", c.host, c.path)
		}
	}
	if d := clear.Route(withHeader(req("GET", "a.example.com", "/app/x"), "x-forwarded-proto", "http")); d.Redirect == nil {
		t.Errorf("cleartext with x-forwarded-proto http (as Envoy sets it at the edge): %+v; want a redirect", d)
	}
	// A trusted load balancer already terminated TLS: redirecting would loop.
	if d := clear.Route(withHeader(req("GET", "a.example.com", "/app/x"), "x-forwarded-proto", "https")); d.Redirect != nil || d.Cluster != "default/app/80" {
		t.Errorf("cleartext with x-forwarded-proto https: %+v; want it served", d)
	}
	for _, host := range []string{"example.com", "b.example.com", "other.org", "a.example.com.evil.org", "xb.example.com"} {
		d := clear.Route(req("GET", host, "/app/x"))
		if d.Redirect != nil || d.Cluster != "default/app/80" {
			t.Errorf("cleartext %s: %+v; want it served by default/app/80", host, d)
		}
	}
	d := tls.Route(routeeval.Request{Method: "GET", Authority: "a.example.com", Path: "/app/x", Scheme: "https"})
	if d.Redirect != nil || d.Cluster != "default/app/80" {
		t.Fatalf("https: %+v; want it served", d)
	}
	if got := d.ApplyResponse(map[string]string{":status": "200"})["strict-transport-security"]; got != "max-age=31536000; includeSubDomains" {
		t.Errorf("https response HSTS %q", got)
	}
	cd := clear.Route(req("GET", "other.org", "/app/x"))
	if got, ok := cd.ApplyResponse(map[string]string{":status": "200"})["strict-transport-security"]; ok {
		t.Errorf("a cleartext response carries HSTS %q", got)
	}
}

func authDisabled(d routeeval.Decision) bool {
	a, ok := d.TypedPerFilterConfig[xds.FilterExtAuthz]
	var per extauthzv3.ExtAuthzPerRoute
	return ok && a.UnmarshalTo(&per) == nil && per.GetDisabled()
}
