package kubeflow

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/test/routeeval"
)

func notebookService(ns, name string) *corev1.Service {
	yes := true
	svc := service(ns, name, nil, port("http-"+name, 80))
	svc.OwnerReferences = []metav1.OwnerReference{{APIVersion: "kubeflow.org/v1", Kind: NotebookKind, Name: name, UID: types.UID("u-" + name), Controller: &yes}}
	return svc
}

// TestNotebookRouteSemantics builds notebooks' generated Mappings next to a catch-all dashboard and
// asks the route evaluator what Envoy does with requests: Kubeflow's routes, kept or rewritten
// paths, websockets, the timeout and the headers a Notebook sets.
func TestNotebookRouteSemantics(t *testing.T) {
	const ns = "kubeflow-user-example-com"
	nbs := []struct {
		svc *corev1.Service
		ann map[string]string
	}{
		{notebookService(ns, "jupyter"), nil},
		{notebookService(ns, "vscode"), map[string]string{AnnotationNotebookRewrite: "/"}},
		{notebookService(ns, "rstudio"), map[string]string{AnnotationNotebookRewrite: "/",
			AnnotationNotebookHeaders: `{"X-RStudio-Root-Path": "/notebook/kubeflow-user-example-com/rstudio/"}`}},
		{notebookService("team-a", "jupyter"), nil},
	}
	dash := service("kubeflow", "centraldashboard", nil, port("http", 80))
	dash.Annotations = map[string]string{mapping.AnnotationAmbassador: "apiVersion: ambassador/v0\nkind: Mapping\nname: dashboard\nprefix: /\nrewrite: \"\"\nservice: centraldashboard.kubeflow:80\n"}
	objs := source.Objects{Services: []*corev1.Service{dash}, Texts: source.ServiceTexts(dash, "", nil)}
	for _, nb := range nbs {
		rec, err := RecogniseNotebook(nb.svc, nb.ann)
		if err != nil || rec.Notebook == nil {
			t.Fatalf("%s: %v %+v", nb.svc.Name, err, rec)
		}
		text, err := GenerateNotebook(*rec.Notebook, GenerateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		svc := withAnnotation(nb.svc.DeepCopy(), mapping.AnnotationGenerated, text)
		objs.Services = append(objs.Services, svc)
		objs.Texts = append(objs.Texts, source.ServiceTexts(svc, "", nil)...)
	}
	router := compileRoutes(t, objs)
	const (
		jupyter, vscode, rstudio = ns + "/jupyter/80", ns + "/vscode/80", ns + "/rstudio/80"
		teamA, dashboard         = "team-a/jupyter/80", "kubeflow/centraldashboard/80"
	)
	cases := []struct{ path, cluster, want string }{
		{"/notebook/" + ns + "/jupyter/", jupyter, "/notebook/" + ns + "/jupyter/"},
		{"/notebook/" + ns + "/jupyter/lab?reset", jupyter, "/notebook/" + ns + "/jupyter/lab?reset"},
		{"/notebook/" + ns + "/jupyter/api/kernels/k1/channels", jupyter, "/notebook/" + ns + "/jupyter/api/kernels/k1/channels"},
		{"/notebook/team-a/jupyter/tree", teamA, "/notebook/team-a/jupyter/tree"},
		{"/notebook/" + ns + "/vscode/", vscode, "/"},
		{"/notebook/" + ns + "/vscode/static/main.js", vscode, "/static/main.js"},
		{"/notebook/" + ns + "/rstudio/s/abc/", rstudio, "/s/abc/"},
		// As in Kubeflow, only the path with its slash is the notebook's; lookalikes are not.
		{"/notebook/" + ns + "/jupyter", dashboard, "/notebook/" + ns + "/jupyter"},
		{"/notebook/" + ns + "/jupyter2/", dashboard, "/notebook/" + ns + "/jupyter2/"},
		{"/notebook/" + ns + "/", dashboard, "/notebook/" + ns + "/"},
	}
	for _, c := range cases {
		d := router.Route(routeeval.Request{Method: "GET", Authority: "kf.example.com", Path: c.path, Scheme: "https", Headers: map[string]string{}})
		if !d.IsForward() || d.Cluster != c.cluster || d.Path != c.want {
			t.Errorf("GET %s: cluster %q path %q (forward %t), want %q %q", c.path, d.Cluster, d.Path, d.IsForward(), c.cluster, c.want)
		}
		if d.Cluster == dashboard {
			continue
		}
		if !slices.Contains(d.Upgrades, "websocket") {
			t.Errorf("GET %s: websocket upgrades %v, want allowed (kernels)", c.path, d.Upgrades)
		}
		if d.Timeout == nil || *d.Timeout != NotebookTimeoutMS*time.Millisecond {
			t.Errorf("GET %s: timeout %v, want Kubeflow's 300s", c.path, d.Timeout)
		}
	}
	// RStudio's root path is set, replacing whatever the client sent; the others get nothing.
	req := routeeval.Request{Method: "GET", Authority: "kf.example.com", Path: "/notebook/" + ns + "/rstudio/", Scheme: "https",
		Headers: map[string]string{"x-rstudio-root-path": "/evil/"}}
	if got := routeeval.FinalRequestHeaders(req, router.Route(req))["x-rstudio-root-path"]; got != "/notebook/"+ns+"/rstudio/" {
		t.Errorf("x-rstudio-root-path upstream %q", got)
	}
	req.Path = "/notebook/" + ns + "/jupyter/"
	if got := routeeval.FinalRequestHeaders(req, router.Route(req))["x-rstudio-root-path"]; got != "/evil/" {
		t.Errorf("a header of RStudio's route reached Jupyter's: %q", got)
	}
}
