package kube_test

import (
	"context"
	"strings"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source/kube"
	"github.com/kfgate/kfgate/kubeflow"
	"github.com/kfgate/kfgate/kubeflow/controller"
	"github.com/kfgate/kfgate/test/routeeval"
	"github.com/kfgate/kfgate/test/xdsclient"
)

// withModels runs the Kubeflow model-server annotator on the replica.
func withModels(template string) func(*kube.Options) {
	return func(o *kube.Options) {
		tmpl, err := kubeflow.ParseTemplate(template)
		if err != nil {
			panic(err)
		}
		o.Pods = true
		o.KeepMetadataAnnotation = kubeflow.IsNotebookAnnotation
		o.Extensions = append(o.Extensions, controller.New(controller.Options{Models: true, Notebooks: true, NotebookRetry: 200 * time.Millisecond, Template: tmpl, ID: "default", Log: o.Logger.WithName("kubeflow"), Holdoff: 10 * time.Millisecond}))
	}
}

// tfServing is a Service as Kubeflow 0.4-0.5's TF Serving template made it: REST on http-tf-serving.
func tfServing(ns, name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{
			{Name: "grpc-tf-serving", Port: 9000}, {Name: "http-tf-serving", Port: 8500},
		}}}
}

// decide asks the route evaluator where the client's RouteConfiguration sends a request.
func decide(t testing.TB, v xdsclient.View, method, path string) routeeval.Decision {
	t.Helper()
	rs := v.Responses[resourcev3.RouteType].GetResources()
	if len(rs) == 0 {
		return routeeval.Decision{}
	}
	var rc routev3.RouteConfiguration
	if err := rs[0].UnmarshalTo(&rc); err != nil {
		t.Fatal(err)
	}
	r, err := routeeval.Compile(&rc)
	if err != nil {
		t.Fatalf("the served RouteConfiguration does not compile: %v", err)
	}
	return r.Route(routeeval.Request{Method: method, Authority: "kf.example.com", Path: path, Scheme: "https", Headers: map[string]string{}})
}

func forwards(t testing.TB, method, path, cluster, upstream string) func(xdsclient.View) bool {
	return func(v xdsclient.View) bool {
		d := decide(t, v, method, path)
		return d.IsForward() && d.Cluster == cluster && d.Path == upstream
	}
}

func (c *cluster) generated(t testing.TB, ns, name string) (string, bool) {
	t.Helper()
	var svc corev1.Service
	if err := c.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
		t.Fatal(err)
	}
	v, ok := svc.Annotations[mapping.AnnotationGenerated]
	return v, ok
}

// A model Service appears and is served at /models/<name>/ (a POST predicts); relabelled out, it
// is gone; a user's own annotation on it is never touched; deleted, its routes go.
func TestModelServerAnnotated(t *testing.T) {
	c := needCluster(t)
	ns := c.namespace(t)
	p := startPlane(t, c.cfg, "default", withModels(kubeflow.DefaultTemplate))
	envoy := p.envoy(t, "envoy")
	model := "mnist-" + ns // model names are cluster-wide under the default template
	svc := tfServing(ns, model)
	svc.Annotations = map[string]string{mapping.AnnotationKfgate: mappingDoc("ui-"+ns, "/"+ns+"-ui/", model+":8500")}
	c.create(t, svc)
	c.create(t, slice(ns, model, model+"-1", "10.7.0.1"))
	cl := ns + "/" + model + "/8500"
	envoy.Wait(t, "the model's routes", func(v xdsclient.View) bool {
		return forwards(t, "POST", "/models/"+model+"/", cl, "/v1/models/"+model+":predict")(v) &&
			forwards(t, "POST", "/models/"+model, cl, "/v1/models/"+model+":predict")(v) &&
			forwards(t, "GET", "/models/"+model+"/metadata", cl, "/v1/models/"+model+"/metadata")(v) &&
			routeIs("* /"+ns+"-ui/", cl)(v)
	})

	// The annotation is owned by kfgate-kubeflow and holds nothing else; the user's is untouched.
	var got corev1.Service
	if err := c.c.Get(context.Background(), client.ObjectKeyFromObject(svc), &got); err != nil {
		t.Fatal(err)
	}
	if got.Annotations[mapping.AnnotationKfgate] != svc.Annotations[mapping.AnnotationKfgate] {
		t.Fatalf("the user's annotation changed: %q", got.Annotations[mapping.AnnotationKfgate])
	}
	owners := map[string]string{}
	for _, mf := range got.ManagedFields {
		if strings.Contains(mf.FieldsV1.GetRawString(), mapping.AnnotationGenerated) {
			owners[mf.Manager] = string(mf.Operation)
		}
	}
	if len(owners) != 1 || owners[controller.FieldManager] != "Apply" {
		t.Fatalf("generated annotation owned by %v, want only %s (Apply)", owners, controller.FieldManager)
	}

	// Opting out removes the generated annotation, and with it the routes; the user's stays.
	got.Labels[kubeflow.KeyExpose] = "false"
	c.update(t, &got)
	poll(t, "the generated annotation removed", func() bool { _, ok := c.generated(t, ns, model); return !ok })
	envoy.Wait(t, "the model's routes gone, the user's kept", func(v xdsclient.View) bool {
		return !decide(t, v, "POST", "/models/"+model+"/").IsForward() && routeIs("* /"+ns+"-ui/", cl)(v)
	})

	// Back in, then deleted: the routes go with the Service.
	if err := c.c.Get(context.Background(), client.ObjectKeyFromObject(svc), &got); err != nil {
		t.Fatal(err)
	}
	delete(got.Labels, kubeflow.KeyExpose)
	c.update(t, &got)
	envoy.Wait(t, "the model back", forwards(t, "POST", "/models/"+model+"/", cl, "/v1/models/"+model+":predict"))
	c.delete(t, &got)
	envoy.Wait(t, "the model gone with its Service", func(v xdsclient.View) bool {
		return !decide(t, v, "POST", "/models/"+model+"/").IsForward()
	})
}

// A renamed model (the model-name annotation changed) moves to its new path.
func TestModelRenamed(t *testing.T) {
	c := needCluster(t)
	ns := c.namespace(t)
	p := startPlane(t, c.cfg, "default", withModels(kubeflow.DefaultTemplate))
	envoy := p.envoy(t, "envoy")
	svc := tfServing(ns, "serving")
	svc.Annotations = map[string]string{kubeflow.KeyModelName: "old-" + ns}
	c.create(t, svc)
	c.create(t, slice(ns, "serving", "serving-1", "10.7.1.1"))
	cl := ns + "/serving/8500"
	envoy.Wait(t, "the old name", forwards(t, "POST", "/models/old-"+ns+"/", cl, "/v1/models/old-"+ns+":predict"))
	svc.Annotations[kubeflow.KeyModelName] = "new-" + ns
	svc.ResourceVersion = "" // a merge patch of the annotation alone, whatever the annotator wrote since
	c.patchAnnotations(t, svc)
	envoy.Wait(t, "the new name only", func(v xdsclient.View) bool {
		return forwards(t, "POST", "/models/new-"+ns+"/", cl, "/v1/models/new-"+ns+":predict")(v) &&
			!decide(t, v, "POST", "/models/old-"+ns+"/").IsForward()
	})
}

// Two namespaces serve a model of the same name: the older keeps /models/<name>/, the younger is
// served under /models/<namespace>/<name>/ and told so in a Warning Event.
func TestModelNameConflict(t *testing.T) {
	c := needCluster(t)
	older, younger := c.namespace(t), c.namespace(t)
	p := startPlane(t, c.cfg, "default", withModels(kubeflow.DefaultTemplate))
	envoy := p.envoy(t, "envoy")
	model := "resnet-" + older
	first := tfServing(older, model)
	first.Annotations = map[string]string{kubeflow.KeyModelName: model}
	c.create(t, first)
	time.Sleep(1100 * time.Millisecond) // creation timestamps have whole seconds
	second := tfServing(younger, "resnet")
	second.Annotations = map[string]string{kubeflow.KeyModelName: model}
	c.create(t, second)
	c.create(t, slice(older, model, "a-1", "10.7.2.1"))
	c.create(t, slice(younger, "resnet", "b-1", "10.7.2.2"))
	envoy.Wait(t, "both models, one on the namespaced path", func(v xdsclient.View) bool {
		return forwards(t, "POST", "/models/"+model+"/", older+"/"+model+"/8500", "/v1/models/"+model+":predict")(v) &&
			forwards(t, "POST", "/models/"+younger+"/"+model+"/", younger+"/resnet/8500", "/v1/models/"+model+":predict")(v)
	})
	c.waitEvent(t, younger, "resnet", corev1.EventTypeWarning, kubeflow.ReasonConflict)
}

// The tensorflow/serving image names its model in MODEL_NAME and serves REST on 8501: the annotator
// reads both off the Pod the Service selects.
func TestModelFromPodEnvironment(t *testing.T) {
	c := needCluster(t)
	ns := c.namespace(t)
	p := startPlane(t, c.cfg, "default", withModels(kubeflow.DefaultTemplate))
	envoy := p.envoy(t, "envoy")
	model := "env-" + ns
	c.create(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "serving-0", Labels: map[string]string{"app": "serving"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "tfs", Image: "tensorflow/serving:2.16.1",
			Env: []corev1.EnvVar{{Name: "MODEL_NAME", Value: model}}}}}})
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "serving", Labels: map[string]string{kubeflow.KeyModelServer: kubeflow.ModelServerTFServing}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "serving"}, Ports: []corev1.ServicePort{
			{Name: "grpc", Port: 8500}, {Name: "rest", Port: 8501},
		}}}
	c.create(t, svc)
	envoy.Wait(t, "the model named by MODEL_NAME on the REST port", forwards(t, "POST", "/models/"+model+"/", ns+"/serving/8501", "/v1/models/"+model+":predict"))
}

// An annotation someone else wrote (by hand, or GitOps applying `kfgate kubeflow annotate`) is
// theirs: the annotator does not force it over, and says so in a Warning Event.
func TestHandWrittenGeneratedConfigIsLeftAlone(t *testing.T) {
	c := needCluster(t)
	ns := c.namespace(t)
	model := "hand-" + ns
	svc := tfServing(ns, model)
	mine := mappingDoc("mine-"+ns, "/"+ns+"-mine/", model+":8500")
	svc.Annotations = map[string]string{mapping.AnnotationGenerated: mine}
	c.create(t, svc)
	p := startPlane(t, c.cfg, "default", withModels(kubeflow.DefaultTemplate))
	envoy := p.envoy(t, "envoy")
	c.waitEvent(t, ns, model, corev1.EventTypeWarning, kubeflow.ReasonConflict)
	envoy.Wait(t, "the hand-written routes", routeIs("* /"+ns+"-mine/", ns+"/"+model+"/8500"))
	if got, _ := c.generated(t, ns, model); got != mine {
		t.Fatalf("the hand-written annotation was replaced: %q", got)
	}
}
