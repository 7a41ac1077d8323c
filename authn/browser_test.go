package authn

import "testing"

func TestBrowserNavigation(t *testing.T) {
	const html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	api := Defaults().APIPrefixes
	cases := []struct {
		name   string
		method string
		path   string
		h      map[string]string
		want   bool
	}{
		{"browser page", "GET", "/jupyter/", map[string]string{"accept": html}, true},
		{"HEAD", "HEAD", "/", map[string]string{"accept": html}, true},
		{"curl", "GET", "/", map[string]string{"accept": "*/*"}, false},
		{"no accept", "GET", "/", nil, false},
		{"json first", "GET", "/", map[string]string{"accept": "application/json, text/html;q=0.5"}, false},
		{"html ties json", "GET", "/", map[string]string{"accept": "application/json, text/html"}, true},
		{"html q=0", "GET", "/", map[string]string{"accept": "text/html;q=0"}, false},
		{"xhr", "GET", "/", map[string]string{"accept": html, "x-requested-with": "XMLHttpRequest"}, false},
		{"xhr lower", "GET", "/", map[string]string{"accept": html, "x-requested-with": "xmlhttprequest"}, false},
		{"grpc", "GET", "/", map[string]string{"accept": html, "content-type": "application/grpc+proto"}, false},
		{"grpc-web", "GET", "/", map[string]string{"accept": html, "content-type": "application/grpc-web-text"}, false},
		{"api prefix", "GET", "/api/v1/namespaces", map[string]string{"accept": html}, false},
		{"api bare", "GET", "/api", map[string]string{"accept": html}, false},
		{"apis", "GET", "/apis/v1beta1/runs", map[string]string{"accept": html}, false},
		{"ml_metadata grpc-web path", "GET", "/ml_metadata.MetadataStoreService/GetArtifacts", map[string]string{"accept": html}, false},
		{"POST form", "POST", "/", map[string]string{"accept": html}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.h
			if h == nil {
				h = map[string]string{}
			}
			r := &Request{Method: c.method, Path: c.path, Headers: h}
			if got := browserNavigation(r, api); got != c.want {
				t.Errorf("browserNavigation = %v, want %v", got, c.want)
			}
		})
	}
}
