package access

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kfgate/kfgate/test/apiserver"
)

// cs is a client of the envtest API server; nil when envtest's binaries are missing.
var cs *kubernetes.Clientset

// TestMain shares one real API server among the tests.
func TestMain(m *testing.M) {
	apiserver.Main(m, nil, func(_ *envtest.Environment, cfg *rest.Config) { cs = kubernetes.NewForConfigOrDie(cfg) })
}

func needCluster(t testing.TB) {
	t.Helper()
	if cs == nil {
		t.Skip("no envtest API server (KUBEBUILDER_ASSETS unset): run `make test`")
	}
}

var nsCount atomic.Int64

// namespaceWithRole creates a namespace and a Role in it granting get on kubeflow.org/notebooks.
func namespaceWithRole(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	ns := fmt.Sprintf("access-%d-%s", nsCount.Add(1), strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")))
	ns = strings.TrimRight(ns[:min(len(ns), 50)], "-")
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "notebook-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"kubeflow.org"}, Resources: []string{"notebooks"}, Verbs: []string{"get"}}}}
	if _, err := cs.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns
}

func bind(t testing.TB, ns, name string, subject rbacv1.Subject) {
	t.Helper()
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "notebook-reader"},
		Subjects: []rbacv1.Subject{subject}}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(context.Background(), rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// eventually asks until the answer is want, moving the clock past the cache each time: the API
// server's RBAC authorizer sees RoleBindings through an informer, a moment after they are written.
func eventually(t testing.TB, c *Checker, clk *clock, user string, groups []string, ns string, want bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, why, err := c.Allowed(t.Context(), user, groups, ns)
		if err != nil {
			t.Fatal(err)
		}
		if ok == want {
			return why
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %v in %s: allowed %v, want %v (%s)", user, groups, ns, ok, want, why)
		}
		clk.Advance(c.cfg.CacheTTL)
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEnvAllowed(t *testing.T) {
	needCluster(t)
	clk := newClock()
	c, err := NewChecker(Config{Enabled: true}, cs.AuthorizationV1().SubjectAccessReviews(), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	ns, other := namespaceWithRole(t), namespaceWithRole(t)
	bind(t, ns, "alice", rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice@example.com"})

	why := eventually(t, c, clk, "alice@example.com", nil, ns, true)
	if !strings.Contains(why, "notebook-reader") {
		t.Fatalf("reason %q does not name the Role", why)
	}
	if ok, why, err := c.Allowed(t.Context(), "bob@example.com", nil, ns); err != nil || ok {
		t.Fatalf("bob: %v %q %v", ok, why, err)
	}
	if ok, _, err := c.Allowed(t.Context(), "alice@example.com", nil, other); err != nil || ok {
		t.Fatalf("alice in another namespace: %v %v", ok, err)
	}
	if ok, _, err := c.Allowed(t.Context(), "bob@example.com", []string{"team-a"}, ns); err != nil || ok {
		t.Fatalf("bob in an unbound group: %v %v", ok, err)
	}
	// The groups are asked about as given, and system:masters may do anything: why authn/bearer
	// refuses OIDC tokens claiming system: users or groups.
	if ok, _, err := c.Allowed(t.Context(), "bob@example.com", []string{"system:masters"}, ns); err != nil || !ok {
		t.Fatalf("system:masters: %v %v", ok, err)
	}
}

func TestEnvGroupBinding(t *testing.T) {
	needCluster(t)
	clk := newClock()
	c, err := NewChecker(Config{Enabled: true}, cs.AuthorizationV1().SubjectAccessReviews(), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	ns := namespaceWithRole(t)
	bind(t, ns, "team-a", rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "team-a"})
	eventually(t, c, clk, "carol@example.com", []string{"team-b", "team-a"}, ns, true)
	if ok, _, err := c.Allowed(t.Context(), "carol@example.com", []string{"team-b"}, ns); err != nil || ok {
		t.Fatalf("carol without team-a: %v %v", ok, err)
	}
}

// TestEnvCache: after the RoleBinding is deleted, the cached answer holds until the clock passes the
// TTL; then the API server's answer (false) comes through.
func TestEnvCache(t *testing.T) {
	needCluster(t)
	clk := newClock()
	c, err := NewChecker(Config{Enabled: true, CacheTTL: time.Minute}, cs.AuthorizationV1().SubjectAccessReviews(), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	ns := namespaceWithRole(t)
	bind(t, ns, "alice", rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice@example.com"})
	eventually(t, c, clk, "alice@example.com", nil, ns, true)

	if err := cs.RbacV1().RoleBindings(ns).Delete(t.Context(), "alice", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Give the API server's authorizer time to see the deletion, so that only the cache answers true.
	time.Sleep(time.Second)
	clk.Advance(time.Minute - time.Second)
	if ok, _, err := c.Allowed(t.Context(), "alice@example.com", nil, ns); err != nil || !ok {
		t.Fatalf("within the TTL: %v %v, want the cached true", ok, err)
	}
	clk.Advance(time.Second)
	eventually(t, c, clk, "alice@example.com", nil, ns, false)
}
