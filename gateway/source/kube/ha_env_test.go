package kube_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/kfgate/kfgate/gateway/source/kube"
	"github.com/kfgate/kfgate/kubeflow"
	"github.com/kfgate/kfgate/test/xdsclient"
)

// TestTwoReplicas: two replicas both serve xDS; only the Lease holder writes Events; when it stops,
// the other takes the Lease, states the current problems once and writes the next Events.
func TestTwoReplicas(t *testing.T) {
	c := needCluster(t)
	ns := c.namespace(t)
	replica := func(id string) *plane {
		return startPlane(t, c.cfg, "default", func(o *kube.Options) {
			o.Namespaces, o.Leader = []string{ns}, testLeader(ns, id)
		})
	}
	a, b := replica("a"), replica("b")
	envoyA, envoyB := a.envoy(t, "envoy-a"), b.envoy(t, "envoy-b")

	c.create(t, service(ns, "app", mappingDoc("app", "/app/", "app")))
	for _, e := range []*xdsclient.Mirror{envoyA, envoyB} {
		e.Wait(t, "/app/ on both replicas", routeIs("* /app/", ns+"/app/80"))
	}
	leader, follower := a, b
	if c.waitLease(t, ns, "") == "b" {
		leader, follower = b, a
	}

	c.create(t, service(ns, "bad", mappingDoc("bad", "/bad/", "bad")+"timeout_ms: soon\n"))
	c.waitEvent(t, ns, "bad", corev1.EventTypeWarning, "InvalidMapping")
	if got := follower.counter(t, "kfgate_kube_events_written_total", nil); got != 0 {
		t.Errorf("the follower wrote %v Events", got)
	}
	if got := leader.counter(t, "kfgate_kube_events_written_total", nil); got != 1 {
		t.Errorf("the leader wrote %v Events, want 1", got)
	}

	leader.stop()
	c.waitLease(t, ns, follower.opts.Leader.Identity)
	c.create(t, service(ns, "worse", mappingDoc("worse", "/worse/", "worse")+"timeout_ms: later\n"))
	c.waitEvent(t, ns, "worse", corev1.EventTypeWarning, "InvalidMapping")
	// A new leader states the current problems once (it cannot know whether the old one did), then
	// only changes: "bad" again, then "worse".
	if got := follower.counter(t, "kfgate_kube_events_written_total", nil); got != 2 {
		t.Errorf("the new leader wrote %v Events, want 2", got)
	}
	if n := len(c.events(t, ns, "bad")); n != 2 {
		t.Errorf("%d Events on the broken Service, want 2 (one from each leader)", n)
	}
	survivor := envoyB
	if follower == a {
		survivor = envoyA
	}
	c.create(t, service(ns, "late", mappingDoc("late", "/late/", "late")))
	survivor.Wait(t, "the surviving replica still serving changes", routeIs("* /late/", ns+"/late/80"))
}

// waitLease waits until the Lease has a holder (want "" means any) and returns it.
func (c *cluster) waitLease(t testing.TB, ns, want string) string {
	t.Helper()
	var holder string
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, xdsclient.WaitTimeout, true,
		func(ctx context.Context) (bool, error) {
			var l coordinationv1.Lease
			if err := c.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "kfgate-test"}, &l); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			if l.Spec.HolderIdentity != nil {
				holder = *l.Spec.HolderIdentity
			}
			return holder != "" && (want == "" || holder == want), nil
		})
	if err != nil {
		t.Fatalf("the Lease is held by %q, want %q", holder, want)
	}
	return holder
}

// TestAPIServerRestart: with the API server stopped, xDS keeps serving the last snapshot (to connected
// and to new clients) and readiness stays true; once it is back, the caches resync and changes flow.
func TestAPIServerRestart(t *testing.T) {
	if shared == nil {
		t.Skip("no envtest API server (KUBEBUILDER_ASSETS unset): run `make test`")
	}
	c, err := startCluster(t.TempDir()) // its own API server, certificates kept across the restart
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.env.Stop() })
	ns := c.namespace(t)
	p := startPlane(t, c.cfg, "default", func(o *kube.Options) { o.Namespaces = []string{ns} })
	envoy := p.envoy(t, "envoy")
	c.create(t, service(ns, "app", mappingDoc("app", "/app/", "app")))
	before := envoy.Wait(t, "/app/ routed", routeIs("* /app/", ns+"/app/80"))

	api := c.env.ControlPlane.GetAPIServer()
	killAPIServer(t, api.CertDir) // a crash: a graceful stop waits out its watches for longer than a test should
	if err := api.Stop(); err != nil {
		t.Fatal(err)
	}
	if !p.srv.Ready() {
		t.Error("not ready while the API server is away")
	}
	late := p.envoy(t, "envoy-late")
	got := late.Wait(t, "the last snapshot for a client connecting during the outage", routeIs("* /app/", ns+"/app/80"))
	if got.Version(routeType) != before.Version(routeType) {
		t.Errorf("route version %q during the outage, want %q", got.Version(routeType), before.Version(routeType))
	}

	if err := api.Start(); err != nil {
		t.Fatal(err)
	}
	c.create(t, service(ns, "after", mappingDoc("after", "/after/", "after")))
	envoy.Wait(t, "a change after the restart", routeIs("* /after/", ns+"/after/80"))
	if r := envoy.View().Routes(); r["* /app/"] != ns+"/app/80" {
		t.Errorf("/app/ lost across the restart: %v", r)
	}
	if !p.srv.Ready() {
		t.Error("not ready after the restart")
	}
}

// TestControlPlaneRestart: a restarted control plane serves its first snapshot only once its caches
// have synced, so an Envoy that reconnects gets the very versions it holds: nothing changes for it.
func TestControlPlaneRestart(t *testing.T) {
	c := needCluster(t)
	ns := c.namespace(t)
	watch := func(o *kube.Options) { o.Namespaces = []string{ns} }
	for i := range 20 {
		c.create(t, service(ns, "app"+itoa(i), mappingDoc("app"+itoa(i), "/app"+itoa(i)+"/", "app"+itoa(i))))
	}
	first := startPlane(t, c.cfg, "default", watch)
	before := first.envoy(t, "envoy").Wait(t, "20 routes", func(v xdsclient.View) bool { return len(v.Routes()) == 20 })
	addr := first.addr
	first.stop()

	second := startPlaneAt(t, c.cfg, "default", addr, watch)
	after := second.envoy(t, "envoy").Wait(t, "a snapshot", func(v xdsclient.View) bool { return v.Version(routeType) != "" })
	for typ := range before.Responses {
		if after.Version(typ) != before.Version(typ) {
			t.Errorf("%s: version %q after the restart, %q before", typ, after.Version(typ), before.Version(typ))
		}
	}
}

// TestLeastPrivilege runs a replica as the ServiceAccount of kustomize/base/controlplane/rbac.yaml,
// bound by exactly those rules: it watches (kubernetes.io/tls Secrets included), serves, takes its
// Lease and writes Events. The rules are the ones the issue allows, with no wildcard.
func TestLeastPrivilege(t *testing.T) {
	c := needCluster(t)
	ns := c.namespace(t)
	objs := rbacObjects(t, ns)
	want := map[string]string{
		"ClusterRole/kfgate-controlplane":          "/services:get,list,watch,patch /pods:get,list,watch /secrets:get,list,watch kubeflow.org/notebooks:get,list,watch discovery.k8s.io/endpointslices:get,list,watch events.k8s.io/events:create,patch",
		"Role/kfgate-controlplane-leader-election": "coordination.k8s.io/leases:get,create,update",
	}
	for _, o := range objs {
		var rules []rbacv1.PolicyRule
		switch r := o.(type) {
		case *rbacv1.ClusterRole:
			rules = r.Rules
		case *rbacv1.Role:
			rules = r.Rules
		default:
			c.create(t, o)
			continue
		}
		key := o.GetObjectKind().GroupVersionKind().Kind + "/" + o.GetName()
		if got := describeRules(rules); got != want[key] {
			t.Errorf("%s grants %q, want %q", key, got, want[key])
		}
		if o.GetName() == "kfgate-controlplane" {
			o.SetName("kfgate-controlplane-" + ns) // cluster-scoped: one per test run
		}
		c.create(t, o)
	}

	sa, err := c.env.AddUser(envtest.User{Name: "system:serviceaccount:" + ns + ":kfgate-controlplane",
		Groups: []string{"system:serviceaccounts", "system:authenticated"}}, c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := startPlane(t, sa.Config(), "default", func(o *kube.Options) {
		o.Leader = testLeader(ns, "restricted")
		o.Leader.Name = "kfgate-test"
		withModels(kubeflow.DefaultTemplate)(o) // the model-server annotator reads Pods and applies to Services
	})
	envoy := p.envoy(t, "envoy")
	// Every namespace is watched: prefixes of their own keep clear of the other tests' Services.
	c.create(t, service(ns, "app", mappingDoc("app", "/"+ns+"/", "app")))
	c.create(t, slice(ns, "app", "app-1", "10.1.0.1"))
	c.create(t, service(ns, "bad", mappingDoc("bad", "/"+ns+"-bad/", "bad")+"timeout_ms: soon\n"))
	c.create(t, tlsSecret(ns, "cert", corev1.SecretTypeTLS, "example"))
	tls := service(ns, "tls", tlsContextDoc("tls", ns+".b.example.com", "cert")) // a host of its own, under the certificate's wildcard
	c.create(t, tls)
	t.Cleanup(func() { c.delete(t, tls) })
	envoy.Wait(t, "routes, endpoints and a certificate under least privilege", func(v xdsclient.View) bool {
		return routeIs("* /"+ns+"/", ns+"/app/80")(v) && endpointsAre(ns+"/app/80", "10.1.0.1:8080")(v) &&
			certIs(v, "kfgate/tls/"+ns+"/cert", "example.crt")
	})
	c.waitLease(t, ns, "restricted")
	c.waitEvent(t, ns, "bad", corev1.EventTypeWarning, "InvalidMapping")
	model := "least-" + ns
	c.create(t, tfServing(ns, model))
	envoy.Wait(t, "a model annotated under least privilege", forwards(t, "POST", "/models/"+model+"/", ns+"/"+model+"/8500", "/v1/models/"+model+":predict"))
	if err := notebookCRD(); err != nil {
		t.Fatal(err)
	}
	c.create(t, notebook(ns, "vscode", map[string]string{kubeflow.AnnotationNotebookRewrite: "/"}))
	c.create(t, notebookService(ns, "vscode"))
	envoy.Wait(t, "a notebook routed as its Notebook says under least privilege",
		forwards(t, "GET", "/notebook/"+ns+"/vscode/a", ns+"/vscode/80", "/a"))
}

// Without the permission to read Notebooks, notebooks are still routed, with Kubeflow's defaults.
func TestNotebooksWithoutPermission(t *testing.T) {
	c := needCluster(t)
	ns := c.namespace(t)
	if err := notebookCRD(); err != nil {
		t.Fatal(err)
	}
	for _, o := range rbacObjects(t, ns) {
		if r, ok := o.(*rbacv1.ClusterRole); ok {
			r.Rules = slices.DeleteFunc(r.Rules, func(p rbacv1.PolicyRule) bool { return slices.Contains(p.Resources, "notebooks") })
		}
		if o.GetName() == "kfgate-controlplane" {
			o.SetName("kfgate-controlplane-" + ns)
		}
		c.create(t, o)
	}
	sa, err := c.env.AddUser(envtest.User{Name: "system:serviceaccount:" + ns + ":kfgate-controlplane",
		Groups: []string{"system:serviceaccounts", "system:authenticated"}}, c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := startPlane(t, sa.Config(), "default", withModels(kubeflow.DefaultTemplate))
	envoy := p.envoy(t, "envoy")
	c.create(t, notebook(ns, "vscode", map[string]string{kubeflow.AnnotationNotebookRewrite: "/"}))
	c.create(t, notebookService(ns, "vscode"))
	path := "/notebook/" + ns + "/vscode/a"
	envoy.Wait(t, "the notebook routed with Kubeflow's defaults", forwards(t, "GET", path, ns+"/vscode/80", path))
}

// rbacObjects reads the control plane's RBAC manifest, moved into namespace ns.
func rbacObjects(t *testing.T, ns string) []client.Object {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "kustomize", "base", "controlplane", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []client.Object
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		var o client.Object
		switch meta.Kind {
		case "ServiceAccount":
			o = &corev1.ServiceAccount{}
		case "ClusterRole":
			o = &rbacv1.ClusterRole{}
		case "ClusterRoleBinding":
			o = &rbacv1.ClusterRoleBinding{}
		case "Role":
			o = &rbacv1.Role{}
		case "RoleBinding":
			o = &rbacv1.RoleBinding{}
		default:
			t.Fatalf("unexpected kind %q in rbac.yaml", meta.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), o); err != nil {
			t.Fatal(err)
		}
		if o.GetNamespace() != "" {
			o.SetNamespace(ns)
		}
		switch b := o.(type) {
		case *rbacv1.ClusterRoleBinding:
			b.Name, b.RoleRef.Name, b.Subjects[0].Namespace = b.Name+"-"+ns, b.RoleRef.Name+"-"+ns, ns
		case *rbacv1.RoleBinding:
			b.Subjects[0].Namespace = ns
		}
		if meta.Kind != "ServiceAccount" {
			o.GetObjectKind().SetGroupVersionKind(rbacv1.SchemeGroupVersion.WithKind(meta.Kind))
		}
		out = append(out, o)
	}
	return out
}

func describeRules(rules []rbacv1.PolicyRule) string {
	var parts []string
	for _, r := range rules {
		parts = append(parts, strings.Join(r.APIGroups, ",")+"/"+strings.Join(r.Resources, ",")+":"+strings.Join(r.Verbs, ","))
	}
	return strings.Join(parts, " ")
}

// killAPIServer kills (SIGKILL) the kube-apiserver serving from certDir.
func killAPIServer(t *testing.T, certDir string) {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range procs {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		args := strings.Split(string(raw), "\x00")
		if filepath.Base(args[0]) != "kube-apiserver" || !slices.Contains(args, "--cert-dir="+certDir) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("no kube-apiserver with --cert-dir=%s", certDir)
}
