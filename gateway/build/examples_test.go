package build

import (
	"testing"

	"github.com/kfgate/kfgate/test/routeeval"
)

// TestExamples keeps examples/ (what `make run` serves) valid and routing where its README says.
func TestExamples(t *testing.T) {
	res, router := buildAndCompile(t, "../../examples")
	for _, d := range res.Diagnostics {
		t.Errorf("examples/ must lint clean: %s", d)
	}
	if res.Config.Listener.Auth == nil {
		t.Error("examples/ has an AuthService: the listener must run ext_authz")
	}
	for path, cluster := range map[string]string{
		"/":                        "kubeflow/centraldashboard/80",
		"/jupyter/":                "kubeflow/jupyter-web-app-service/80",
		"/pipeline/":               "kubeflow/ml-pipeline-ui/80",
		"/tfserving/models/mnist":  "kubeflow/mnist/8500",
		"/tfserving/models/resnet": "kubeflow/resnet/8500",
		"/dex/auth":                "auth/dex/5556",
		"/httpbin/get":             "httpbin.org/80",
		"/notebook/kubeflow-user-example-com/my-notebook/lab": "kubeflow-user-example-com/my-notebook/80",
	} {
		d := router.Route(routeeval.Request{Method: "GET", Authority: "kubeflow.example.com", Path: path})
		if d.Cluster != cluster {
			t.Errorf("GET %s went to %q, want %q", path, d.Cluster, cluster)
		}
	}
	for _, c := range res.Config.Clusters {
		if c.Name == "kubeflow/centraldashboard/80" && len(c.Endpoints) != 2 {
			t.Errorf("centraldashboard must be EDS with its 2 ready endpoints, got %+v", c)
		}
	}
}
