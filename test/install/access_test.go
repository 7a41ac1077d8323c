package install

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kfgate/kfgate/authn/access"
	"github.com/kfgate/kfgate/gateway/ir"
	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/kubeflow"
	"github.com/kfgate/kfgate/test/apiserver"
	"github.com/kfgate/kfgate/test/routeeval"
)

// What kfgate authn may do in the Kubeflow overlays: verify ServiceAccount tokens and ask whether a
// user may use a namespace. Nothing else, and nothing at all elsewhere.
const (
	tokenReviews         = "authentication.k8s.io/tokenreviews:create"
	subjectAccessReviews = "authorization.k8s.io/subjectaccessreviews:create"
)

// boundRules flattens every rule bound to the build's ServiceAccount sa (through any binding) into
// "group/resource:verb" entries, sorted and without repeats.
func boundRules(t *testing.T, out *output, namespace, sa string) []string {
	t.Helper()
	var got []string
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		for _, u := range out.ofKind(kind) {
			rb := convert[rbacv1.RoleBinding](t, u)
			if !slices.ContainsFunc(rb.Subjects, func(s rbacv1.Subject) bool {
				return s.Kind == rbacv1.ServiceAccountKind && s.Name == sa && s.Namespace == namespace
			}) {
				continue
			}
			role := out.get(rb.RoleRef.Kind, rb.RoleRef.Name)
			if role == nil {
				t.Fatalf("%s %s binds %s %s, which the build does not hold", kind, rb.Name, rb.RoleRef.Kind, rb.RoleRef.Name)
			}
			got = append(got, flatten(convert[rbacv1.ClusterRole](t, role).Rules)...)
		}
	}
	slices.Sort(got)
	return slices.Compact(got)
}

func flatten(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out = append(out, g+"/"+res+":"+v)
				}
			}
		}
	}
	return out
}

// TestAuthnRBAC: in the Kubeflow overlays, kfgate authn's ServiceAccount may create TokenReviews and
// SubjectAccessReviews and nothing else; elsewhere it has no permission. Each setting that needs the
// API server has its permission, and the pod mounts its ServiceAccount token exactly when one does.
func TestAuthnRBAC(t *testing.T) {
	for _, b := range variants {
		t.Run(b.name, func(t *testing.T) {
			out := render(t, b.dir)
			got := boundRules(t, out, b.namespace, "kfgate-authn")
			var want []string
			if b.namespace == "kubeflow" {
				want = []string{tokenReviews, subjectAccessReviews}
			}
			if !slices.Equal(got, want) {
				t.Errorf("kfgate authn may %q, want exactly %q", got, want)
			}
			cfg, d, _ := loadAuthn(t, out)
			if cfg.Bearer.Kubernetes.Mode == "tokenreview" && !slices.Contains(got, tokenReviews) {
				t.Error("bearer.kubernetes.mode is tokenreview, but kfgate authn may not create TokenReviews")
			}
			if cfg.Authorization.Namespace.Enabled && !slices.Contains(got, subjectAccessReviews) {
				t.Error("authorization.namespaceAccess is on, but kfgate authn may not create SubjectAccessReviews")
			}
			needsAPI := cfg.Bearer.Kubernetes.Mode != "" || cfg.Authorization.Namespace.Enabled
			if mounts := ptr.Deref(d.Spec.Template.Spec.AutomountServiceAccountToken, true); mounts != needsAPI {
				t.Errorf("kfgate authn mounts its ServiceAccount token: %v; it needs the API server: %v", mounts, needsAPI)
			}
		})
	}
}

// An RBAC marker of the code: +kubebuilder:rbac:groups=...,resources=...,verbs=...[,namespace=...].
type rbacMarker struct {
	where                    string
	groups, resources, verbs []string
	namespaced               bool
}

var markerRE = regexp.MustCompile(`^\s*//\s*\+kubebuilder:rbac:(.+)$`)

// rbacMarkers reads every +kubebuilder:rbac marker of the repository's non-test Go files.
func rbacMarkers(t *testing.T) []rbacMarker {
	t.Helper()
	var markers []rbacMarker
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != repoRoot && (strings.HasPrefix(n, ".") || n == "node_modules" || n == "testdata" || n == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, text := range strings.Split(string(data), "\n") {
			line := i + 1
			m := markerRE.FindStringSubmatch(text)
			if m == nil {
				continue
			}
			mk := rbacMarker{where: strings.TrimPrefix(p, repoRoot+"/") + ":" + strconv.Itoa(line)}
			for _, kv := range strings.Split(m[1], ",") {
				k, v, _ := strings.Cut(kv, "=")
				vals := strings.Split(strings.Trim(v, `"`), ";")
				switch k {
				case "groups":
					mk.groups = vals
				case "resources":
					mk.resources = vals
				case "verbs":
					mk.verbs = vals
				case "namespace":
					mk.namespaced = true
				default:
					t.Errorf("%s: marker key %q: the test does not know it", mk.where, k)
				}
			}
			if mk.groups == nil || mk.resources == nil || mk.verbs == nil {
				t.Errorf("%s: a marker without groups, resources or verbs: %s", mk.where, m[1])
			}
			markers = append(markers, mk)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return markers
}

// TestControlPlaneRBAC: the control plane's roles grant every permission its code declares (the
// +kubebuilder:rbac markers: cluster-wide in the ClusterRole, namespaced in the Role of its own
// namespace), the notebook helper's read of Notebooks included; allowedRules (TestRBAC) bounds them
// from above.
func TestControlPlaneRBAC(t *testing.T) {
	markers := rbacMarkers(t)
	if !slices.ContainsFunc(markers, func(m rbacMarker) bool {
		return slices.Equal(m.groups, []string{kubeflow.NotebookGroup}) && slices.Equal(m.resources, []string{"notebooks"})
	}) {
		t.Fatalf("the notebook helper declares no permission on notebooks.kubeflow.org: %+v", markers)
	}
	for _, b := range variants {
		t.Run(b.name, func(t *testing.T) {
			out := render(t, b.dir)
			cluster := out.get("ClusterRole", "kfgate-controlplane")
			role := out.get("Role", "kfgate-controlplane-leader-election")
			if cluster == nil || role == nil || role.GetNamespace() != b.namespace {
				t.Fatalf("the control plane's ClusterRole and its Role in %s: %v, %v", b.namespace, cluster, role)
			}
			cr := convert[rbacv1.ClusterRole](t, cluster)
			granted := map[bool][]string{false: flatten(cr.Rules), true: flatten(convert[rbacv1.ClusterRole](t, role).Rules)}
			for _, m := range markers {
				for _, g := range m.groups {
					for _, r := range m.resources {
						for _, v := range m.verbs {
							if e := g + "/" + r + ":" + v; !slices.Contains(granted[m.namespaced], e) {
								t.Errorf("%s needs %s, which the control plane's roles do not grant", m.where, e)
							}
						}
					}
				}
			}
			// The notebooks rule is one of its own: reading Notebooks grants nothing else.
			if !slices.ContainsFunc(cr.Rules, func(r rbacv1.PolicyRule) bool {
				return slices.Equal(r.APIGroups, []string{"kubeflow.org"}) && slices.Equal(r.Resources, []string{"notebooks"}) &&
					slices.Equal(r.Verbs, []string{"get", "list", "watch"})
			}) {
				t.Errorf("the control plane's ClusterRole has no rule get, list, watch on kubeflow.org notebooks: %+v", cr.Rules)
			}
		})
	}
}

// notebookObjects is a notebook as the control plane sees it in a Kubeflow cluster: the Service
// Kubeflow's notebook controller makes (controlled by the Notebook, http-<name> on 80), annotated
// by kfgate's notebook helper as it would be, and one ready pod.
func notebookObjects(t *testing.T, ns, name string) source.Objects {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, CreationTimestamp: metav1.NewTime(time.Unix(2, 0)),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "kubeflow.org/v1", Kind: "Notebook", Name: name, UID: "nb-1", Controller: ptr.To(true)}}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"statefulset": name}, Ports: []corev1.ServicePort{
			{Name: "http-" + name, Port: 80, TargetPort: intstr.FromInt32(8888)},
		}},
	}
	r, err := kubeflow.RecogniseNotebook(svc, nil)
	if err != nil || r.Notebook == nil {
		t.Fatalf("not recognised as a notebook: %+v, %v", r, err)
	}
	text, err := kubeflow.GenerateNotebook(*r.Notebook, kubeflow.GenerateOptions{ID: "default"})
	if err != nil {
		t.Fatal(err)
	}
	svc.Annotations = map[string]string{mapping.AnnotationGenerated: text}
	eps := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name + "-x", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http-" + name), Port: ptr.To(int32(8888))}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.1.1"}}},
	}
	return source.Objects{Services: []*corev1.Service{svc}, EndpointSlices: []*discoveryv1.EndpointSlice{eps},
		Texts: source.ServiceTexts(svc, "", nil)}
}

// profileCluster starts an API server with a Kubeflow profile's namespace ns whose notebooks its
// owner (owner@example.com) and the group team-contributors may get, as Kubeflow's kubeflow-edit
// role, bound by the Profile controller and KFAM, allows.
func profileCluster(t *testing.T, ns string) kubernetes.Interface {
	t.Helper()
	_, cfg := apiserver.Start(t)
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := t.Context()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "kubeflow-edit"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"kubeflow.org"}, Resources: []string{"notebooks"}, Verbs: []string{"get", "list", "watch", "create", "delete"}}}}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "namespaceAdmin", Namespace: ns},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kubeflow-edit"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "owner@example.com"},
			{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "team-contributors"}}}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestKubeflowNamespaceAccess: through the Kubeflow overlays, a notebook's route (as the notebook
// helper writes it) sends kfgate authn its profile's namespace, which is not exempt, and kfgate
// authn, configured as the overlay configures it, asks the API server whether the user may get
// notebooks.kubeflow.org there and admits only those it allows. Every route the overlay brings is in
// an exempt namespace (the shared apps are open to every logged-in user) or needs no login.
func TestKubeflowNamespaceAccess(t *testing.T) {
	const ns, name = "kubeflow-user-example-com", "my-notebook"
	cs := profileCluster(t, ns)
	for _, vn := range []string{"kubeflow", "kubeflow-all"} {
		t.Run(vn, func(t *testing.T) {
			b := variantNamed(t, vn)
			cfg, _, _ := loadAuthn(t, render(t, b.dir))
			exempt := cfg.Authorization.ExemptNamespaces
			res, router := gateway(t, b, notebookObjects(t, ns, name))

			d := router.Route(routeeval.Request{Method: "GET", Authority: "kubeflow.example.com", Path: "/notebook/" + ns + "/" + name + "/lab", Scheme: "https"})
			if want := ns + "/" + name + "/80"; !d.IsForward() || d.Cluster != want || d.Path != "/notebook/"+ns+"/"+name+"/lab" {
				t.Fatalf("GET the notebook: %+v, want cluster %s with the path kept", d, want)
			}
			if d.Timeout == nil || *d.Timeout != 300*time.Second || !slices.Contains(d.Upgrades, "websocket") {
				t.Errorf("the notebook's route: timeout %v, upgrades %v; want 300s and websockets", d.Timeout, d.Upgrades)
			}
			checked := false
			for _, vh := range res.Config.VirtualHosts {
				for _, r := range vh.Routes {
					if r.Auth == nil {
						t.Errorf("route %s: no ext_authz settings", r.Name)
						continue
					}
					if r.Auth.Disabled {
						continue
					}
					got := r.Auth.ContextExtensions[ir.ExtNamespace]
					switch {
					case r.Name == d.RouteName:
						checked = true
						if got != ns || slices.Contains(exempt, got) {
							t.Errorf("the notebook's route sends namespace %q (exempt: %q), want its own %s, checked", got, exempt, ns)
						}
					case got == "" || !slices.Contains(exempt, got):
						t.Errorf("route %s (the overlay's) sends namespace %q, which is not exempt %q: shared apps would be refused", r.Name, got, exempt)
					}
				}
			}
			if !checked {
				t.Fatalf("the notebook's route %s is not among the build's", d.RouteName)
			}

			// kfgate authn's namespace check as the overlay configures it, against a real API server
			// where Kubeflow's kubeflow-edit role (cut down to notebooks) is bound in the profile's
			// namespace to its owner and to a contributors' group.
			checker, err := access.NewChecker(cfg.Authorization.Namespace, cs.AuthorizationV1().SubjectAccessReviews(), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				user   string
				groups []string
				ns     string
				want   bool
			}{
				{"owner@example.com", nil, ns, true},
				{"contributor@example.com", []string{"team-contributors"}, ns, true},
				{"someone-else@example.com", []string{"team"}, ns, false},
				{"owner@example.com", nil, "kubeflow-user-other", false},
			} {
				ok, why, err := checker.Allowed(t.Context(), c.user, c.groups, c.ns)
				if err != nil || ok != c.want {
					t.Errorf("%s %v opening a notebook in %s: allowed %v (%s, %v), want %v", c.user, c.groups, c.ns, ok, why, err, c.want)
				}
			}
		})
	}
}
