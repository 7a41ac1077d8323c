package authn_test

import (
	"context"
	"net/http"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kfgate/kfgate/authn"
	"github.com/kfgate/kfgate/test/apiserver"
	"github.com/kfgate/kfgate/test/oidcprovider"
)

// A pipeline SDK client sends a ServiceAccount token (TokenRequest with the pipelines audience);
// kfgate verifies it with TokenReview against a real API server and checks the route's namespace with
// a SubjectAccessReview.
func TestServiceAccountTokenAndNamespaceAccess(t *testing.T) {
	env, cfg := apiserver.Start(t)
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	for _, ns := range []string{"team-a", "team-b"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.CoreV1().ServiceAccounts("team-a").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default-editor"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "notebooks"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{"kubeflow.org"}, Resources: []string{"notebooks"}, Verbs: []string{"get"},
	}}}
	if _, err := cs.RbacV1().Roles("team-a").Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().RoleBindings("team-a").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "editor"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "notebooks"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default-editor", Namespace: "team-a"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts("team-a").CreateToken(ctx, "default-editor", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{"pipelines.kubeflow.org"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	idp := oidcprovider.Start(t, oidcprovider.Options{})
	c := testConfig(t, idp.Issuer)
	c.Bearer.Kubernetes.Mode = "tokenreview"
	c.Bearer.Kubernetes.Issuer = env.ControlPlane.APIServer.SecureServing.URL("https", "/").String()
	c.Bearer.Kubernetes.Audiences = []string{"pipelines.kubeflow.org"}
	c.Authorization.Namespace.Enabled = true
	c.Authorization.ExemptNamespaces = []string{"kubeflow"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, idp: idp, clock: &clock{}, cfg: c}
	srv, err := authn.NewServer(c, authn.Options{Log: testLog(t), Now: w.clock.Now, Kube: func() (*rest.Config, error) { return cfg, nil }})
	if err != nil {
		t.Fatal(err)
	}
	w.serve(srv)
	w.waitReady()

	b := w.browser()
	bearer := map[string]string{"authorization": "Bearer " + tr.Status.Token, "kubeflow-userid": "admin@example.com"}
	resp := b.check("GET", "/pipeline/apis/v2beta1/runs", bearer, map[string]string{"namespace": "team-a"})
	up := upstream(t, b.sent, resp)
	if up["kubeflow-userid"] != "system:serviceaccount:team-a:default-editor" {
		t.Fatalf("user upstream %q", up["kubeflow-userid"])
	}
	if s := status(b.check("GET", "/pipeline/", bearer, map[string]string{"namespace": "team-b"})); s != http.StatusForbidden {
		t.Fatalf("another namespace: %d, want 403", s)
	}
	if s := status(b.check("GET", "/pipeline/", bearer, map[string]string{"namespace": "kubeflow"})); s != http.StatusOK {
		t.Fatalf("exempt namespace: %d, want 200", s)
	}
	bad := map[string]string{"authorization": "Bearer " + tr.Status.Token[:len(tr.Status.Token)-3] + "abc"}
	if s := status(b.check("GET", "/pipeline/", bad, map[string]string{"namespace": "team-a"})); s != http.StatusUnauthorized {
		t.Fatalf("tampered token: %d, want 401", s)
	}
}
