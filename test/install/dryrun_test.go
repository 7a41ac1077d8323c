package install

import (
	"context"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kfgate/kfgate/test/apiserver"
)

// fieldOwner is the field manager of the test's applies.
const fieldOwner = client.FieldOwner("kfgate-install-test")

// restrictedLabels are the Pod Security labels of the namespaces the test creates (Kubeflow labels
// its namespaces so): the API server warns about every pod template that breaks the standard.
var restrictedLabels = map[string]string{
	"pod-security.kubernetes.io/enforce": "restricted",
	"pod-security.kubernetes.io/warn":    "restricted",
}

// warnings collects the API server's warnings (the PodSecurity admission's, deprecations).
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, code int, _, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// TestDryRun applies every object of every variant to a real API server (envtest) with a
// server-side dry run: the API server validates each against its schema and admission, and
// PodSecurity checks each pod template against the restricted standard. Namespaces are created for
// real first (a dry-run Namespace does not exist for the objects in it). ServiceMonitor, Certificate
// and AuthorizationPolicy have stand-in CRDs without a schema (testdata/crds): their fields are
// checked by TestTLS, TestMonitoring and TestMeshPolicies.
func TestDryRun(t *testing.T) {
	for _, b := range variants {
		render(t, b.dir) // before the API server starts: skips without kustomize
	}
	_, cfg := apiserver.Start(t)
	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: []string{"testdata/crds"}, ErrorIfPathMissing: true}); err != nil {
		t.Fatal(err)
	}
	w := &warnings{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandlerWithContext = w
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	// The check below is only worth something if the API server does warn: a privileged pod.
	ensureNamespace(t, ctx, c, "kfgate-install-control")
	bad := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "privileged", Namespace: "kfgate-install-control"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x",
					SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}}}},
			},
		},
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: u}), fieldOwner, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	if got := w.take(); len(got) == 0 || !strings.Contains(strings.Join(got, " "), "restricted") {
		t.Fatalf("the API server does not warn about a privileged pod (%q): PodSecurity admission is off", got)
	}

	for _, b := range variants {
		t.Run(b.name, func(t *testing.T) {
			out := render(t, b.dir)
			for _, ns := range out.ofKind("Namespace") {
				apply(t, ctx, c, ns) // for real
			}
			for _, o := range out.objs {
				if ns := o.GetNamespace(); ns != "" {
					ensureNamespace(t, ctx, c, ns)
				}
			}
			w.take()
			for _, o := range out.objs {
				if o.GetKind() == "Namespace" {
					continue
				}
				apply(t, ctx, c, o, client.DryRunAll)
				for _, text := range w.take() {
					t.Errorf("%s %s/%s: the API server warns: %s", o.GetKind(), o.GetNamespace(), o.GetName(), text)
				}
			}
		})
	}
}

func apply(t *testing.T, ctx context.Context, c client.Client, o *unstructured.Unstructured, opts ...client.ApplyOption) {
	t.Helper()
	opts = append(opts, fieldOwner, client.ForceOwnership)
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), opts...); err != nil {
		t.Errorf("%s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
	}
}

// ensureNamespace creates a namespace the variant's objects go to but do not create (Kubeflow's
// kubeflow namespace), labelled for the restricted standard.
func ensureNamespace(t *testing.T, ctx context.Context, c client.Client, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: restrictedLabels}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}
