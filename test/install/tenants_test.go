package install

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/kubeflow"
)

// TestKubeflowTenants: the Kubeflow overlays trust only kfgate's and Dex's namespaces, so a profile's
// Service cannot switch the login off for a path, forge kubeflow-userid or replace the AuthService,
// while the overlay's own routes (Dex's without a login) still lint clean.
func TestKubeflowTenants(t *testing.T) {
	for _, vn := range []string{"kubeflow", "kubeflow-all"} {
		t.Run(vn, func(t *testing.T) {
			out := render(t, variantNamed(t, vn).dir)
			plane := container(t, out.deployment(t, "kfgate-controlplane"), "controlplane")
			v, ok := flag(plane.Args, "trusted-namespaces")
			if !ok || v != "kubeflow,auth" {
				t.Fatalf("the control plane's --trusted-namespaces=%q (set %t), want kubeflow,auth", v, ok)
			}
			paths, _ := flag(plane.Args, "tenant-paths")
			if tmpl, _ := flag(plane.Args, "model-path-template"); tmpl != kubeflow.NamespacedTemplate || paths != "/{namespace}/,/notebook/{namespace}/,/models/{namespace}/" {
				t.Fatalf("--model-path-template=%q --tenant-paths=%q: a profile's models must be under its own /models/<profile>/", tmpl, paths)
			}
			tenant := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "kubeflow-user-example-com",
				Annotations: map[string]string{mapping.AnnotationKfgate: `---
apiVersion: getambassador.io/v2
kind: Mapping
name: public
prefix: /kubeflow-user-example-com/public/
service: app
bypass_auth: true
---
apiVersion: getambassador.io/v2
kind: Mapping
name: admin
prefix: /kubeflow-user-example-com/admin/
service: app
add_request_headers:
  kubeflow-userid: {value: admin@example.com, append: false}
---
apiVersion: getambassador.io/v2
kind: AuthService
name: open
auth_service: app:9191
proto: grpc
---
apiVersion: getambassador.io/v2
kind: Mapping
name: dashboard
prefix: /
service: app
---
apiVersion: getambassador.io/v2
kind: Mapping
name: other-model
prefix: /models/team-b/mnist/
service: app
---
apiVersion: getambassador.io/v2
kind: Mapping
name: own-model
prefix: /models/kubeflow-user-example-com/mnist/
service: app
`}}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
			// Older than the install: it still takes nothing of the overlay's.
			tenant.CreationTimestamp = metav1.NewTime(time.Unix(0, 0))
			res := buildGateway(t, variantNamed(t, vn), source.Objects{Services: []*corev1.Service{tenant}, Texts: source.ServiceTexts(tenant, "", nil)})
			refused := map[string]string{}
			for _, d := range res.Diagnostics {
				switch {
				case d.Source.Namespace == tenant.Namespace && d.Severity == mapping.SeverityError:
					refused[d.DocName] = d.Reason + " " + d.Field
				case d.Severity != mapping.SeverityInfo:
					t.Errorf("the overlay's own annotations must lint clean: %s", d)
				}
			}
			want := map[string]string{"public": mapping.ReasonUntrusted + " bypass_auth", "admin": mapping.ReasonUntrusted + " add_request_headers",
				"open": mapping.ReasonUntrusted + " kind", "dashboard": mapping.ReasonUntrusted + " prefix", "other-model": mapping.ReasonUntrusted + " prefix",
				"own-model": ""}
			for name, reason := range want {
				if refused[name] != reason {
					t.Errorf("the profile's %s: %q, want %s (all refused: %v)", name, refused[name], reason, refused)
				}
			}
			if a := res.Config.Listener.Auth; a == nil || !strings.HasPrefix(a.Cluster, "kubeflow/kfgate-authn/") {
				t.Errorf("ext_authz %+v, want the overlay's kfgate-authn", a)
			}
		})
	}
}
