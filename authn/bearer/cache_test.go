package bearer

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestTTLCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newTTLCache[string, int](3)
	c.put("a", 1, now.Add(time.Second))
	if v, ok := c.get("a", now); !ok || v != 1 {
		t.Fatalf("get a: %v %v", v, ok)
	}
	if _, ok := c.get("a", now.Add(time.Second)); ok {
		t.Fatal("an entry outlived its expiry")
	}
	if c.len() != 0 {
		t.Fatal("an expired entry stayed")
	}
	for i, k := range []string{"a", "b", "c", "d"} {
		c.put(k, i, now.Add(time.Hour))
	}
	if c.len() != 3 {
		t.Fatalf("%d entries, want at most 3", c.len())
	}
	if _, ok := c.get("a", now); ok {
		t.Fatal("the oldest entry was not evicted")
	}
	c.put("b", 10, now.Add(time.Hour)) // b is now the newest
	c.put("e", 4, now.Add(time.Hour))
	if _, ok := c.get("c", now); ok {
		t.Fatal("c should have been evicted before the rewritten b")
	}
	if v, _ := c.get("b", now); v != 10 {
		t.Fatalf("b = %d", v)
	}
}

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
