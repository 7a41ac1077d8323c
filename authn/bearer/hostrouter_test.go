package bearer

import (
	"net/http"
	"net/url"
	"testing"
)

type recorder struct{ hosts []string }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.hosts = append(r.hosts, req.URL.Host)
	return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Request: req}, nil
}

// TestHostRouter: the Kubernetes transport (with the pod's credentials) sees only the discovery
// origin's requests.
func TestHostRouter(t *testing.T) {
	kube, other := &recorder{}, &recorder{}
	c, err := kubeClient(&http.Client{Transport: other}, &http.Client{Transport: kube}, "https://kubernetes.default.svc")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"https://kubernetes.default.svc/.well-known/openid-configuration",
		"https://kubernetes.default.svc:443/openid/v1/jwks", "https://oidc.example/keys",
		"http://kubernetes.default.svc/x", "https://kubernetes.default.svc:6443/x"} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	if len(kube.hosts) != 2 || len(other.hosts) != 3 {
		t.Fatalf("kube got %v, other %v", kube.hosts, other.hosts)
	}
	if o := origin(&url.URL{Scheme: "https", Host: "K.example"}); o != "https://k.example:443" {
		t.Fatal(o)
	}
}
