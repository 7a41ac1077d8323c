package build

import (
	"testing"

	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/test/routeeval"
)

// TestRouteSemantics renders configuration and asks the Envoy route evaluator (test/routeeval) where
// requests go: "this request reaches that cluster with that path".
func TestRouteSemantics(t *testing.T) {
	router := compile(t, "testdata/semantics.yaml")
	type want struct {
		cluster, path, host, redirect string
		matched                       bool
	}
	cases := []struct {
		name string
		req  routeeval.Request
		want want
	}{
		{"root goes to the dashboard", req("GET", "dash.example.com", "/"), want{cluster: "kubeflow/centraldashboard/80", path: "/", matched: true}},
		{"prefix match, default rewrite to /", req("GET", "x", "/jupyter/api/spawn"), want{cluster: "kubeflow/jupyter-web-app-service/80", path: "/api/spawn", matched: true}},
		{"/jupyter without the slash is not under /jupyter/", req("GET", "x", "/jupyter"), want{cluster: "kubeflow/centraldashboard/80", path: "/jupyter", matched: true}},
		{"rewrite equal to the prefix keeps the path; nb.ns with no known Service in ns is a DNS name", req("GET", "x", "/notebook/ns/nb/lab?x=1"), want{cluster: "nb.ns/80", path: "/notebook/ns/nb/lab?x=1", matched: true}},
		{"POST to the model predicts", req("POST", "x", "/tfserving/models/mnist"), want{cluster: "kubeflow/mnist/8500", path: "/v1/models/mnist:predict", matched: true}},
		{"GET to the model asks its status", req("GET", "x", "/tfserving/models/mnist"), want{cluster: "kubeflow/mnist/8500", path: "/v1/models/mnist", matched: true}},
		{"a trailing slash after the model name stays on the model (prefix rewrite keeps the rest)", req("GET", "x", "/tfserving/models/mnist/"), want{cluster: "kubeflow/mnist/8500", path: "/v1/models/mnist/", matched: true}},
		{"DELETE to the model is not the model's: falls to the dashboard", req("DELETE", "x", "/tfserving/models/mnist"), want{cluster: "kubeflow/centraldashboard/80", path: "/tfserving/models/mnist", matched: true}},
		{"case-sensitive by default", req("GET", "x", "/API/v1/x"), want{cluster: "kubeflow/centraldashboard/80", path: "/API/v1/x", matched: true}},
		{"case-insensitive Mapping", req("GET", "x", "/DOCS/index.html"), want{cluster: "kubeflow/docs/80", path: "/index.html", matched: true}},
		{"regex prefix, full match only", req("GET", "x", "/v2/models/resnet/infer"), want{cluster: "kubeflow/kserve/80", path: "/v2/models/resnet/infer", matched: true}},
		{"regex prefix does not match a longer path", req("GET", "x", "/v2/models/resnet/infer/extra"), want{cluster: "kubeflow/centraldashboard/80", path: "/v2/models/resnet/infer/extra", matched: true}},
		{"regex_rewrite replaces every match", req("GET", "x", "/api/v3/users?q=1"), want{cluster: "kubeflow/api/80", path: "/users/v3?q=1", matched: true}},
		{"header constraint selects the canary build", withHeader(req("GET", "x", "/svc/a"), "x-canary", "yes"), want{cluster: "kubeflow/svc-canary/80", path: "/a", matched: true}},
		{"without the header the stable build answers", req("GET", "x", "/svc/a"), want{cluster: "kubeflow/svc/80", path: "/a", matched: true}},
		{"host-specific Mapping wins on its host", req("GET", "grafana.example.com", "/"), want{cluster: "monitoring/grafana/3000", path: "/", matched: true}},
		{"host with a port still matches its virtual host", req("GET", "grafana.example.com:8443", "/"), want{cluster: "monitoring/grafana/3000", path: "/", matched: true}},
		{"hostless routes are present on every host", req("GET", "grafana.example.com", "/jupyter/"), want{cluster: "kubeflow/jupyter-web-app-service/80", path: "/", matched: true}},
		{"host_rewrite for the external service", req("GET", "x", "/httpbin/get"), want{cluster: "httpbin.org/80", path: "/get", host: "httpbin.org", matched: true}},
		{"host_redirect answers a redirect", req("GET", "x", "/old-docs/page"), want{redirect: "https://docs.example.com/new/page", matched: true}},
		{"exact path only", req("GET", "x", "/healthz/deep"), want{cluster: "kubeflow/centraldashboard/80", path: "/healthz/deep", matched: true}},
		{"exact path", req("GET", "x", "/healthz"), want{cluster: "kubeflow/health/80", path: "/", matched: true}},
		{"higher precedence beats a longer prefix", req("GET", "x", "/pipeline/apis/v1"), want{cluster: "kubeflow/ml-pipeline-ui/80", path: "/pipeline/apis/v1", matched: true}},
		{"query parameter constraint", req("GET", "x", "/search?engine=new"), want{cluster: "kubeflow/search-next/80", path: "/?engine=new", matched: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := router.Route(c.req)
			got := want{cluster: d.Cluster, path: d.Path, matched: d.Matched}
			if c.want.host != "" {
				got.host = d.Host
			}
			if d.Redirect != nil {
				got = want{redirect: d.Redirect.Location, matched: d.Matched}
			}
			if got != c.want {
				t.Errorf("%s %s%s:\n got  %+v\n want %+v", c.req.Method, c.req.Authority, c.req.Path, got, c.want)
			}
		})
	}
}

// TestCanarySplit checks that the weights become real traffic shares, walking every random draw.
func TestCanarySplit(t *testing.T) {
	for _, file := range []string{"testdata/canary_weighted_clusters.in.yaml", "testdata/canary_chain.in.yaml"} {
		router := compile(t, file)
		path := map[string]string{"testdata/canary_weighted_clusters.in.yaml": "/svc/x", "testdata/canary_chain.in.yaml": "/m/x"}[file]
		shares := map[string]int{}
		for r := range uint64(100) {
			d := router.Route(routeeval.Request{Method: "GET", Authority: "x", Path: path, Random: r})
			shares[d.Cluster]++
		}
		want := map[string]map[string]int{
			"testdata/canary_weighted_clusters.in.yaml": {"default/stable/80": 90, "default/canary/80": 10},
			"testdata/canary_chain.in.yaml":             {"default/model-v1/80": 50, "default/model-v2/80": 25, "default/model-v3/80": 25},
		}[file]
		for c, n := range want {
			if shares[c] != n {
				t.Errorf("%s: %s got %d%% of traffic, want %d%% (all: %v)", file, c, shares[c], n, shares)
			}
		}
	}
}

func compile(t *testing.T, path string) *routeeval.Router {
	t.Helper()
	res, router := buildAndCompile(t, path)
	for _, d := range res.Diagnostics {
		t.Logf("diagnostic: %s", d)
	}
	return router
}

// buildAndCompile builds a file or directory and compiles its RouteConfiguration for the evaluator.
func buildAndCompile(t *testing.T, path string) (*Result, *routeeval.Router) {
	t.Helper()
	objs, err := source.LoadPaths(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := NewBuilder(Options{}).Build(objs)
	if err != nil {
		t.Fatal(err)
	}
	router, err := routeeval.Compile(res.Resources.Routes[0])
	if err != nil {
		t.Fatalf("the route evaluator refuses kfgate's config: %v", err)
	}
	return res, router
}

func req(method, host, path string) routeeval.Request {
	return routeeval.Request{Method: method, Authority: host, Path: path, Scheme: "http", Headers: map[string]string{}}
}

func withHeader(r routeeval.Request, k, v string) routeeval.Request {
	r.Headers[k] = v
	return r
}
