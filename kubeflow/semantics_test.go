package kubeflow

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfgate/kfgate/gateway/build"
	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/test/routeeval"
)

// TestRouteSemantics annotates model Services the way the controller will, builds them with
// kfgate's pipeline next to a catch-all dashboard, and asks the Envoy route evaluator where
// requests go: "this request reaches that model's cluster with that upstream path".
func TestRouteSemantics(t *testing.T) {
	router := buildModels(t, Template{},
		service("kubeflow", "mnist", nil, port("grpc-tf-serving", 9000), port("http-tf-serving", 8500)),
		service("kubeflow", "census", nil, port("tf-serving", 9000), port("tf-serving-proxy", 8000)),
		service("kubeflow-user-example-com", "sklearn-iris-predictor", kserveLabels("sklearn-iris"), port("http", 80)),
		withAnnotation(service("models", "triton-predictor", kserveLabels("triton"), port("http", 80)), KeyProtocol, "v2"),
		externalName(service("kubeflow-user-example-com", "torch-cifar-predictor", kserveLabels("torch-cifar"), port("http2", 80))),
		created(service("team-b", "resnet", nil, port("http-tf-serving", 8500)), 1),
		created(service("team-a", "resnet", nil, port("http-tf-serving", 8500)), 2),
	)
	const (
		mnist, census, resnetB, resnetA = "kubeflow/mnist/8500", "kubeflow/census/8000", "team-b/resnet/8500", "team-a/resnet/8500"
		iris, triton, dashboard         = "kubeflow-user-example-com/sklearn-iris-predictor/80", "models/triton-predictor/80", "kubeflow/centraldashboard/80"
	)
	cases := []struct {
		method, path  string
		cluster, want string
	}{
		// TF Serving's REST API: predict, status, metadata, classify, regress, with or without the slash.
		{"POST", "/models/mnist/", mnist, "/v1/models/mnist:predict"},
		{"POST", "/models/mnist", mnist, "/v1/models/mnist:predict"},
		{"POST", "/models/mnist/predict", mnist, "/v1/models/mnist:predict"},
		{"POST", "/models/mnist/?debug=1", mnist, "/v1/models/mnist:predict?debug=1"},
		{"GET", "/models/mnist/", mnist, "/v1/models/mnist"},
		{"GET", "/models/mnist", mnist, "/v1/models/mnist"},
		{"GET", "/models/mnist/metadata", mnist, "/v1/models/mnist/metadata"},
		{"GET", "/models/mnist/metadata/", mnist, "/v1/models/mnist/metadata"},
		{"POST", "/models/mnist/classify", mnist, "/v1/models/mnist:classify"},
		{"POST", "/models/mnist/regress/", mnist, "/v1/models/mnist:regress"},
		// Versions and labels.
		{"POST", "/models/mnist/versions/2/", mnist, "/v1/models/mnist/versions/2:predict"},
		{"POST", "/models/mnist/versions/2", mnist, "/v1/models/mnist/versions/2:predict"},
		{"GET", "/models/mnist/versions/2", mnist, "/v1/models/mnist/versions/2"},
		{"GET", "/models/mnist/versions/2/metadata", mnist, "/v1/models/mnist/versions/2/metadata"},
		{"POST", "/models/mnist/labels/stable/classify", mnist, "/v1/models/mnist/labels/stable:classify"},
		{"GET", "/models/mnist/labels/canary/", mnist, "/v1/models/mnist/labels/canary"},
		// What is not the model's falls through to the catch-all.
		{"DELETE", "/models/mnist/", dashboard, "/models/mnist/"},
		{"GET", "/models/mnist2/", dashboard, "/models/mnist2/"},
		{"POST", "/models/mnist/versions/two/", dashboard, "/models/mnist/versions/two/"},
		{"GET", "/models/mnist/metadata/extra", dashboard, "/models/mnist/metadata/extra"},
		{"GET", "/models/mnist/classify", dashboard, "/models/mnist/classify"},
		// Kubeflow 0.1-0.2's HTTP proxy.
		{"POST", "/models/census/", census, "/model/census:predict"},
		{"GET", "/models/census", census, "/"},
		// KServe v1 and v2.
		{"POST", "/models/sklearn-iris/", iris, "/v1/models/sklearn-iris:predict"},
		{"POST", "/models/sklearn-iris/explain", iris, "/v1/models/sklearn-iris:explain"},
		{"GET", "/models/sklearn-iris", iris, "/v1/models/sklearn-iris"},
		{"POST", "/models/triton/infer", triton, "/v2/models/triton/infer"},
		{"POST", "/models/triton/", triton, "/v2/models/triton/infer"},
		{"POST", "/models/triton/versions/3/infer/", triton, "/v2/models/triton/versions/3/infer"},
		{"GET", "/models/triton/ready", triton, "/v2/models/triton/ready"},
		{"GET", "/models/triton/versions/3/ready", triton, "/v2/models/triton/versions/3/ready"},
		{"GET", "/models/triton/", triton, "/v2/models/triton"},
		// The same name in two namespaces: the older keeps the short path.
		{"POST", "/models/resnet/", resnetB, "/v1/models/resnet:predict"},
		{"POST", "/models/team-a/resnet", resnetA, "/v1/models/resnet:predict"},
		{"GET", "/models/team-a/resnet/metadata", resnetA, "/v1/models/resnet/metadata"},
	}
	for _, c := range cases {
		d := router.Route(routeeval.Request{Method: c.method, Authority: "kf.example.com", Path: c.path, Scheme: "https", Headers: map[string]string{}})
		if !d.IsForward() || d.Cluster != c.cluster || d.Path != c.want {
			t.Errorf("%s %s: got cluster %q path %q (forward %t), want %q %q", c.method, c.path, d.Cluster, d.Path, d.IsForward(), c.cluster, c.want)
		}
	}
	// Knative routes by Host: the ExternalName predictor gets its own.
	d := router.Route(routeeval.Request{Method: "POST", Authority: "kf.example.com", Path: "/models/torch-cifar/", Headers: map[string]string{}})
	if d.Path != "/v1/models/torch-cifar:predict" || d.Host != "torch-cifar-predictor.kubeflow-user-example-com.svc" {
		t.Errorf("POST /models/torch-cifar/: path %q host %q cluster %q", d.Path, d.Host, d.Cluster)
	}
}

// TestRouteSemanticsNamespaced: under the multi-tenant template the namespace is in the path.
func TestRouteSemanticsNamespaced(t *testing.T) {
	tmpl, err := ParseTemplate(NamespacedTemplate)
	if err != nil {
		t.Fatal(err)
	}
	router := buildModels(t, tmpl, service("team-a", "mnist", nil, port("http-tf-serving", 8500)))
	d := router.Route(routeeval.Request{Method: "POST", Authority: "x", Path: "/models/team-a/mnist/versions/1", Headers: map[string]string{}})
	if d.Cluster != "team-a/mnist/8500" || d.Path != "/v1/models/mnist/versions/1:predict" {
		t.Errorf("namespaced predict: %q %q", d.Cluster, d.Path)
	}
}

// buildModels recognises, assigns and generates as the controller does, builds everything with
// the pipeline (which must report nothing) and compiles the route table.
func buildModels(t *testing.T, tmpl Template, svcs ...*corev1.Service) *routeeval.Router {
	t.Helper()
	var models []Model
	byKey := map[string]*corev1.Service{}
	for _, svc := range svcs {
		rec, err := Recognise(svc, nil, Options{})
		if err != nil || !rec.Exposed() {
			t.Fatalf("%s/%s: %v %+v", svc.Namespace, svc.Name, err, rec)
		}
		models = append(models, *rec.Model)
		byKey[rec.Model.Key()] = svc
	}
	dash := service("kubeflow", "centraldashboard", nil, port("http", 80))
	dash.Annotations = map[string]string{mapping.AnnotationAmbassador: "apiVersion: ambassador/v0\nkind: Mapping\nname: dashboard\nprefix: /\nrewrite: \"\"\nservice: centraldashboard.kubeflow:80\n"}
	objs := source.Objects{Services: []*corev1.Service{dash}, Texts: source.ServiceTexts(dash, "", nil)}
	for _, a := range Assign(models, tmpl) {
		text, err := Generate(a.Model, a.Path, GenerateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		svc := withAnnotation(byKey[a.Model.Key()].DeepCopy(), mapping.AnnotationGenerated, text)
		objs.Services = append(objs.Services, svc)
		objs.Texts = append(objs.Texts, source.ServiceTexts(svc, "", nil)...)
	}
	return compileRoutes(t, objs)
}

// compileRoutes builds objs with the pipeline, which must report nothing, and compiles the route table.
func compileRoutes(t *testing.T, objs source.Objects) *routeeval.Router {
	t.Helper()
	res, err := build.NewBuilder(build.Options{}).Build(objs)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Diagnostics {
		t.Errorf("diagnostic on generated config: %s", d)
	}
	router, err := routeeval.Compile(res.Resources.Routes[0])
	if err != nil {
		t.Fatalf("the route evaluator refuses the config: %v", err)
	}
	return router
}

func service(ns, name string, labels map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}, Spec: corev1.ServiceSpec{Ports: ports}}
}

func port(name string, n int32) corev1.ServicePort { return corev1.ServicePort{Name: name, Port: n} }

func kserveLabels(isvc string) map[string]string {
	return map[string]string{LabelInferenceService: isvc, LabelComponent: ComponentPredictor}
}

func withAnnotation(svc *corev1.Service, k, v string) *corev1.Service {
	if svc.Annotations == nil {
		svc.Annotations = map[string]string{}
	}
	svc.Annotations[k] = v
	return svc
}

func externalName(svc *corev1.Service) *corev1.Service {
	svc.Spec.Type, svc.Spec.ExternalName = corev1.ServiceTypeExternalName, "knative-local-gateway.istio-system.svc.cluster.local"
	return svc
}

func created(svc *corev1.Service, day int) *corev1.Service {
	svc.CreationTimestamp = metav1.NewTime(time.Date(2024, 1, day, 0, 0, 0, 0, time.UTC))
	return svc
}
