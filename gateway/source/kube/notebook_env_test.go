package kube_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/kubeflow"
	"github.com/kfgate/kfgate/test/xdsclient"
)

// notebookCRDOptions install the part of Kubeflow's Notebook CRD kfgate relies on: kubeflow.org/v1
// Notebook, namespaced.
func notebookCRDOptions() envtest.CRDInstallOptions {
	crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "notebooks.kubeflow.org"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{Group: kubeflow.NotebookGroup, Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: kubeflow.NotebookKind, ListKind: "NotebookList", Plural: "notebooks", Singular: "notebook"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true)}}}}}}
	return envtest.CRDInstallOptions{CRDs: []*apiextensionsv1.CustomResourceDefinition{crd}}
}

// notebookCRD installs the Notebook CRD (if it is not there) and waits until it is served.
func notebookCRD() error {
	_, err := envtest.InstallCRDs(shared.cfg, notebookCRDOptions())
	return err
}

// removeNotebookCRD uninstalls the Notebook CRD and waits until it is gone: other tests install it.
func removeNotebookCRD(t testing.TB) {
	t.Helper()
	if err := envtest.UninstallCRDs(shared.cfg, notebookCRDOptions()); err != nil {
		t.Fatal(err)
	}
}

// notebookService is a Service as Kubeflow's notebook controller makes it for Notebook name.
func notebookService(ns, name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "kubeflow.org/v1", Kind: kubeflow.NotebookKind, Name: name, UID: "0d6a3c0e-1111-4a3c-9c55-5f0c2a1b7e01", Controller: ptr.To(true)}}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"statefulset": name}, Ports: []corev1.ServicePort{{Name: "http-" + name, Port: 80}}}}
}

func notebook(ns, name string, annotations map[string]string) *unstructured.Unstructured {
	nb := &unstructured.Unstructured{}
	nb.SetAPIVersion("kubeflow.org/v1")
	nb.SetKind(kubeflow.NotebookKind)
	nb.SetNamespace(ns)
	nb.SetName(name)
	nb.SetAnnotations(annotations)
	return nb
}

// A notebook's Service is routed at /notebook/<ns>/<name>/ with Kubeflow's defaults while Notebooks
// cannot be read (no CRD yet); once they can, its Notebook's http-rewrite-uri applies, a broken one
// keeps the last good route with a Warning, and opting out removes it.
func TestNotebookRouted(t *testing.T) {
	c := needCluster(t)
	ns := c.namespace(t)
	removeNotebookCRD(t)
	p := startPlane(t, c.cfg, "default", withModels(kubeflow.DefaultTemplate))
	envoy := p.envoy(t, "envoy")
	svc := notebookService(ns, "vscode")
	c.create(t, svc)
	sl := slice(ns, "vscode", "vscode-1", "10.7.0.9")
	sl.Ports[0].Name = ptr.To("http-vscode")
	c.create(t, sl)
	cl := ns + "/vscode/80"
	path := "/notebook/" + ns + "/vscode/"
	envoy.Wait(t, "the notebook routed, its path kept", forwards(t, "GET", path+"static/app.js", cl, path+"static/app.js"))
	d := decide(t, envoy.View(), "GET", path)
	if len(d.Upgrades) != 1 || d.Upgrades[0] != "websocket" || d.Timeout == nil || d.Timeout.Seconds() != 300 {
		t.Fatalf("upgrades %v timeout %v, want websocket and 300s", d.Upgrades, d.Timeout)
	}

	// Kubeflow installed: the Notebook's rewrite applies (read after the helper's retry).
	if err := notebookCRD(); err != nil {
		t.Fatal(err)
	}
	nb := notebook(ns, "vscode", map[string]string{kubeflow.AnnotationNotebookRewrite: "/"})
	c.create(t, nb)
	envoy.Wait(t, "the Notebook's rewrite", forwards(t, "GET", path+"static/app.js", cl, "/static/app.js"))

	// A broken rewrite: the last good route stays, and the Service is told.
	nb.SetAnnotations(map[string]string{kubeflow.AnnotationNotebookRewrite: "/../kubeflow/"})
	c.update(t, nb)
	e := c.waitEvent(t, ns, "vscode", corev1.EventTypeWarning, kubeflow.ReasonInvalidNotebook)
	if got := e.Note; !strings.Contains(got, "http-rewrite-uri") || !strings.Contains(got, "keeps the route it had") {
		t.Fatalf("event note %q", got)
	}
	if !forwards(t, "GET", path+"x", cl, "/x")(envoy.View()) {
		t.Fatal("the last good route was not kept")
	}

	// Opted out: the generated annotation goes, and the route with it.
	var got corev1.Service
	if err := c.c.Get(context.Background(), client.ObjectKeyFromObject(svc), &got); err != nil {
		t.Fatal(err)
	}
	got.Annotations = map[string]string{kubeflow.KeyExpose: "false"}
	c.update(t, &got)
	poll(t, "the generated annotation removed", func() bool { _, ok := c.generated(t, ns, "vscode"); return !ok })
	envoy.Wait(t, "the notebook's route gone", func(v xdsclient.View) bool { return !decide(t, v, "GET", path).IsForward() })
}

// A notebook's Service whose generated annotation someone else wrote keeps it, and is told so.
func TestNotebookAnnotationHeldByAnother(t *testing.T) {
	c := needCluster(t)
	ns := c.namespace(t)
	if err := notebookCRD(); err != nil {
		t.Fatal(err)
	}
	c.create(t, notebook(ns, "mine", nil)) // known: kfgate wants its own route there
	p := startPlane(t, c.cfg, "default", withModels(kubeflow.DefaultTemplate))
	envoy := p.envoy(t, "envoy")
	svc := notebookService(ns, "mine")
	mine := mappingDoc("mine-"+ns, "/"+ns+"-mine/", "mine:80")
	svc.Annotations = map[string]string{mapping.AnnotationGenerated: mine}
	c.create(t, svc)
	c.waitEvent(t, ns, "mine", corev1.EventTypeWarning, kubeflow.ReasonNotebookConflict)
	envoy.Wait(t, "the hand-written route", routeIs("* /"+ns+"-mine/", ns+"/mine/80"))
	if got, _ := c.generated(t, ns, "mine"); got != mine {
		t.Fatalf("the annotation changed: %q", got)
	}
}
