package install

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/kfgate/kfgate/gateway/build"
	"github.com/kfgate/kfgate/gateway/ir"
	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/test/pki"
	"github.com/kfgate/kfgate/test/routeeval"
)

// gateway variants what a build's Services tell kfgate, as the control plane would see them in the
// cluster, with the flags the control plane runs with. A cert-manager Certificate of the build
// stands for the kubernetes.io/tls Secret it will write (a test certificate). extra are more of the
// cluster's objects (a notebook's Service, say).
func gateway(t *testing.T, b variant, extra ...source.Objects) (*build.Result, *routeeval.Router) {
	t.Helper()
	res := buildGateway(t, b, extra...)
	for _, d := range res.Diagnostics {
		if d.Severity != mapping.SeverityInfo {
			t.Errorf("the build's annotations must lint clean: %s", d)
		}
	}
	router, err := routeeval.Compile(res.Resources.Routes[0])
	if err != nil {
		t.Fatalf("the route evaluator refuses the build's routes: %v", err)
	}
	return res, router
}

// buildGateway is gateway's build, whatever it reports. The build's own Services were created at
// install time (t=1 s); extra objects keep their creation times.
func buildGateway(t *testing.T, b variant, extra ...source.Objects) *build.Result {
	t.Helper()
	out := render(t, b.dir)
	plane := container(t, out.deployment(t, "kfgate-controlplane"), "controlplane")
	port := func(name string) uint32 {
		v, _ := flag(plane.Args, name)
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			t.Fatalf("the control plane's --%s=%q", name, v)
		}
		return uint32(n)
	}
	var objs source.Objects
	if b.namespace == "kubeflow" {
		objs = kubeflowApps()
	}
	for _, e := range extra {
		objs.Services = append(objs.Services, e.Services...)
		objs.EndpointSlices = append(objs.EndpointSlices, e.EndpointSlices...)
		objs.Texts = append(objs.Texts, e.Texts...)
	}
	for _, svc := range out.services(t) {
		svc.CreationTimestamp = metav1.NewTime(time.Unix(1, 0))
		objs.Services = append(objs.Services, svc)
		objs.Texts = append(objs.Texts, source.ServiceTexts(svc, "", nil)...)
	}
	objs.Secrets = append(objs.Secrets, certificateSecrets(out)...)
	var trusted, tenantPaths []string
	if v, ok := flag(plane.Args, "trusted-namespaces"); ok {
		trusted = strings.Split(v, ",")
	}
	if v, ok := flag(plane.Args, "tenant-paths"); ok {
		tenantPaths = strings.Split(v, ",")
	}
	res, err := build.NewBuilder(build.Options{ID: "default", ListenerPort: port("listener-port"), HTTPSPort: port("https-port"),
		ClusterDomain: "cluster.local", TrustedNamespaces: trusted, TenantPaths: tenantPaths, Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }}).Build(objs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// certificateSecrets are the kubernetes.io/tls Secrets the rendering's cert-manager Certificates
// will write (a test certificate).
func certificateSecrets(out *output) []*corev1.Secret {
	var secrets []*corev1.Secret
	for _, c := range out.ofKind("Certificate") {
		name, _, _ := unstructured.NestedString(c.Object, "spec", "secretName")
		secrets = append(secrets, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.GetNamespace()},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{"tls.crt": pki.File("example.crt"), "tls.key": pki.File("example.key")},
		})
	}
	return secrets
}

// The Services of Kubeflow's apps the routes lead to (as kubeflow/manifests defines them), each
// with one ready pod: what the control plane sees in a Kubeflow cluster.
var kubeflowServices = []struct {
	namespace, name string
	port, target    int32
}{
	{"auth", "dex", 5556, 5556},
	{"kubeflow", "centraldashboard", 80, 8082},
	{"kubeflow", "jupyter-web-app-service", 80, 5000},
	{"kubeflow", "volumes-web-app-service", 80, 5000},
	{"kubeflow", "tensorboards-web-app-service", 80, 5000},
	{"kubeflow", "ml-pipeline-ui", 80, 3000},
	{"kubeflow", "profiles-kfam", 8081, 8081},
}

func kubeflowApps() source.Objects {
	var objs source.Objects
	for i, k := range kubeflowServices {
		objs.Services = append(objs.Services, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: k.name, Namespace: k.namespace, CreationTimestamp: metav1.NewTime(time.Unix(1, 0))},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": k.name}, Ports: []corev1.ServicePort{
				{Name: "http", Port: k.port, TargetPort: intstr.FromInt32(k.target)},
			}},
		})
		objs.EndpointSlices = append(objs.EndpointSlices, &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: k.name + "-x", Namespace: k.namespace, Labels: map[string]string{discoveryv1.LabelServiceName: k.name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(k.target)}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0." + strconv.Itoa(i+1)}}},
		})
	}
	return objs
}

// TestAuthService: every install turns Envoy's ext_authz filter on, pointing at kfgate authn.
func TestAuthService(t *testing.T) {
	for _, b := range variants {
		t.Run(b.name, func(t *testing.T) {
			res, _ := gateway(t, b)
			auth := res.Config.Listener.Auth
			if want := b.namespace + "/kfgate-authn/9191/h2"; auth == nil || auth.Cluster != want || auth.FailureModeAllow {
				t.Errorf("ext_authz: %+v, want cluster %s, failing closed", auth, want)
			}
		})
	}
}

// A request through the Kubeflow gateway, and where it must go.
type kubeflowRoute struct {
	path, cluster, upstreamPath string
	bypassAuth                  bool
	timeout                     time.Duration
	headers                     map[string]string
}

var kubeflowRoutes = []kubeflowRoute{
	{path: "/dex/auth?client_id=x", cluster: "auth/dex/5556", upstreamPath: "/dex/auth?client_id=x", bypassAuth: true, timeout: 3 * time.Second},
	{path: "/", cluster: "kubeflow/centraldashboard/80", upstreamPath: "/", timeout: time.Minute},
	{path: "/api/workgroup/exists", cluster: "kubeflow/centraldashboard/80", upstreamPath: "/api/workgroup/exists", timeout: time.Minute},
	{path: "/jupyter/api/namespaces/a/notebooks", cluster: "kubeflow/jupyter-web-app-service/80", upstreamPath: "/api/namespaces/a/notebooks", timeout: time.Minute,
		headers: map[string]string{"x-forwarded-prefix": "/jupyter"}},
	{path: "/volumes/", cluster: "kubeflow/volumes-web-app-service/80", upstreamPath: "/", timeout: time.Minute,
		headers: map[string]string{"x-forwarded-prefix": "/volumes"}},
	{path: "/tensorboards/", cluster: "kubeflow/tensorboards-web-app-service/80", upstreamPath: "/", timeout: time.Minute,
		headers: map[string]string{"x-forwarded-prefix": "/tensorboards"}},
	{path: "/pipeline/apis/v2beta1/pipelines", cluster: "kubeflow/ml-pipeline-ui/80", upstreamPath: "/pipeline/apis/v2beta1/pipelines", timeout: 5 * time.Minute},
	{path: "/kfam/v1/bindings", cluster: "kubeflow/profiles-kfam/8081", upstreamPath: "/kfam/v1/bindings", timeout: time.Minute},
}

// TestKubeflowRoutes sends requests through the Kubeflow overlay's routes (kfgate's own builder and
// the route evaluator): each reaches its web app, with the path, headers and timeout Kubeflow's
// VirtualServices give it, and only Dex's skips kfgate authn.
func TestKubeflowRoutes(t *testing.T) {
	res, router := gateway(t, variantNamed(t, "kubeflow"))
	checkKubeflowRoutes(t, res, router, func(r kubeflowRoute, c *ir.Cluster) string {
		if c.Name != r.cluster || c.Kind != ir.ClusterEDS || len(c.Endpoints) != 1 {
			t.Errorf("GET %s: cluster %+v, want %s with the pod of its Service (EDS)", r.path, c, r.cluster)
		}
		return "kubeflow.example.com"
	})
}

// TestKubeflowIstioRoutes: through the mesh (components/kubeflow-istio) the same requests reach
// the same web apps at their Service addresses, with the Service's name as Host; and the
// component's routes are the overlay's but for service and host_rewrite.
func TestKubeflowIstioRoutes(t *testing.T) {
	b := variantNamed(t, "kubeflow-all")
	out := render(t, b.dir)
	mesh := map[string]string{} // ExternalName Service → the name it stands for
	for _, svc := range out.services(t) {
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			mesh[svc.Name] = svc.Spec.ExternalName
		}
	}
	res, router := gateway(t, b)
	checkKubeflowRoutes(t, res, router, func(r kubeflowRoute, c *ir.Cluster) string {
		ns, name, _ := strings.Cut(r.cluster, "/")
		name, port, _ := strings.Cut(name, "/")
		fqdn := name + "." + ns + ".svc.cluster.local"
		if c.Kind != ir.ClusterDNS || c.Host != fqdn || strconv.Itoa(int(c.Port)) != port {
			t.Errorf("GET %s: cluster %+v, want DNS on %s:%s (the Service's address, not its pods)", r.path, c, fqdn, port)
		}
		return fqdn
	})

	plain := mappings(t, render(t, variantNamed(t, "kubeflow").dir), "kfgate-kubeflow-routes")
	meshed := mappings(t, out, "kfgate-kubeflow-routes")
	if len(plain) != len(meshed) {
		t.Fatalf("%d routes through the mesh, %d without", len(meshed), len(plain))
	}
	for i, m := range meshed {
		p := maps.Clone(plain[i])
		svc, _ := m["service"].(string)
		name, port, _ := strings.Cut(svc, ":")
		if _, orig, _ := strings.Cut(p["service"].(string), ":"); orig != port || m["host_rewrite"] != mesh[name] {
			t.Errorf("Mapping %v: service %s, host_rewrite %v: want the port of %v and the Service's name %s", m["name"], svc, m["host_rewrite"], p["service"], mesh[name])
		}
		delete(p, "service")
		m = maps.Clone(m)
		delete(m, "service")
		delete(m, "host_rewrite")
		if !equalYAML(t, p, m) {
			t.Errorf("the mesh's Mapping %v differs from the overlay's in more than service and host_rewrite:\n%v\n%v", m["name"], m, p)
		}
	}
}

// checkKubeflowRoutes sends kubeflowRoutes through router; check judges the cluster each reaches
// and returns the Host it must be sent with.
func checkKubeflowRoutes(t *testing.T, res *build.Result, router *routeeval.Router, check func(kubeflowRoute, *ir.Cluster) (host string)) {
	t.Helper()
	routes := map[string]*ir.Route{}
	for _, vh := range res.Config.VirtualHosts {
		for _, r := range vh.Routes {
			routes[r.Name] = r
		}
	}
	clusters := map[string]*ir.Cluster{}
	for _, c := range res.Config.Clusters {
		clusters[c.Name] = c
	}
	for _, r := range kubeflowRoutes {
		d := router.Route(routeeval.Request{Method: "GET", Authority: "kubeflow.example.com", Path: r.path, Scheme: "https"})
		c := clusters[d.Cluster]
		if !d.IsForward() || c == nil {
			t.Errorf("GET %s: not forwarded to a cluster: %+v", r.path, d)
			continue
		}
		if host := check(r, c); d.Path != r.upstreamPath || d.Host != host {
			t.Errorf("GET %s: upstream %s (host %s), want %s (host %s)", r.path, d.Path, d.Host, r.upstreamPath, host)
		}
		if d.Timeout == nil || *d.Timeout != r.timeout {
			t.Errorf("GET %s: timeout %v, want %s", r.path, d.Timeout, r.timeout)
		}
		headers := routeeval.FinalRequestHeaders(routeeval.Request{Method: "GET", Authority: "kubeflow.example.com", Path: r.path,
			Headers: map[string]string{"x-forwarded-prefix": "/evil"}}, d)
		for k, v := range r.headers {
			if headers[k] != v {
				t.Errorf("GET %s: %s: %q, want %q", r.path, k, headers[k], v)
			}
		}
		ir := routes[d.RouteName]
		if ir == nil || ir.Auth == nil || ir.Auth.Disabled != r.bypassAuth {
			t.Errorf("GET %s: route %s: auth %+v, want bypassed %v", r.path, d.RouteName, ir, r.bypassAuth)
		}
	}
	pipeline := router.Route(routeeval.Request{Method: "GET", Authority: "kubeflow.example.com", Path: "/pipeline/", Scheme: "https"})
	if !slices.Contains(pipeline.Upgrades, "websocket") {
		t.Errorf("the Pipelines UI needs websockets: %v", pipeline.Upgrades)
	}
}

// mappings returns the documents of a Service's kfgate.io/config annotation.
func mappings(t *testing.T, out *output, service string) []map[string]any {
	t.Helper()
	var docs []map[string]any
	for _, chunk := range mapping.SplitDocuments(out.service(t, service).Annotations[mapping.AnnotationKfgate]) {
		var m map[string]any
		if err := sigsyaml.Unmarshal([]byte(chunk.Text), &m); err != nil {
			t.Fatal(err)
		}
		if m != nil {
			docs = append(docs, m)
		}
	}
	return docs
}

func equalYAML(t *testing.T, a, b any) bool {
	t.Helper()
	x, err := sigsyaml.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := sigsyaml.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(x) == string(y)
}

// TestTLS: with components/cert-manager-tls, the Certificate writes the Secret the TLSContext
// serves, Envoy gets its HTTPS listener on the control plane's --https-port, and cleartext
// requests are redirected to HTTPS.
func TestTLS(t *testing.T) {
	for _, name := range []string{"standalone-cert-manager-tls", "kubeflow-all"} {
		t.Run(name, func(t *testing.T) {
			b := variantNamed(t, name)
			out := render(t, b.dir)
			cert := out.get("Certificate", "kfgate-tls")
			if cert == nil {
				t.Fatal("no Certificate kfgate-tls")
			}
			dns, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
			kind, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "kind")
			issuer, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "name")
			if len(dns) == 0 || !slices.Contains([]string{"Issuer", "ClusterIssuer"}, kind) || issuer == "" || strings.HasPrefix(issuer, "TLS_") {
				t.Errorf("Certificate: dnsNames %v, issuerRef %s %q: the parameters were not substituted", dns, kind, issuer)
			}
			res, router := gateway(t, b)
			if res.Config.HTTPS == nil {
				t.Fatal("no HTTPS listener")
			}
			d := router.Route(routeeval.Request{Method: "GET", Authority: dns[0], Path: "/jupyter/?a=1", Scheme: "http"})
			if d.Redirect == nil || d.Redirect.Location != "https://"+dns[0]+"/jupyter/?a=1" {
				t.Errorf("cleartext GET: %+v, want a redirect to HTTPS", d.Redirect)
			}
			if out.get("ConfigMap", "kfgate-tls-params") != nil {
				t.Error("the TLS parameters only feed replacements: they must not be installed")
			}
		})
	}
}

// TestMonitoring: the ServiceMonitors scrape /metrics on ports the selected Services have, and the
// NetworkPolicy lets Prometheus reach them.
func TestMonitoring(t *testing.T) {
	for _, name := range []string{"standalone-prometheus", "kubeflow-all"} {
		t.Run(name, func(t *testing.T) {
			out := render(t, variantNamed(t, name).dir)
			monitors := out.ofKind("ServiceMonitor")
			if len(monitors) != 2 {
				t.Fatalf("%d ServiceMonitors, want the control plane's and kfgate authn's", len(monitors))
			}
			for _, sm := range monitors {
				sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
				eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
				var svcs []*corev1.Service
				for _, s := range out.services(t) {
					if s.Namespace == sm.GetNamespace() && len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(s.Labels)) && len(s.Spec.Selector) > 0 {
						svcs = append(svcs, s)
					}
				}
				if len(svcs) != 1 || len(eps) == 0 {
					t.Fatalf("ServiceMonitor %s selects %d Services with %d endpoints, want one", sm.GetName(), len(svcs), len(eps))
				}
				for _, e := range eps {
					ep, _ := e.(map[string]any)
					if ep["path"] != "/metrics" || !slices.ContainsFunc(svcs[0].Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep["port"] }) {
						t.Errorf("ServiceMonitor %s: endpoint %v is no /metrics port of Service %s", sm.GetName(), ep, svcs[0].Name)
					}
				}
			}
		})
	}
}

// TestMeshPolicies: components/kubeflow-istio's AuthorizationPolicies admit exactly the identity of
// kfgate's Envoy pods, and they join the mesh while their listeners stay reachable from outside.
func TestMeshPolicies(t *testing.T) {
	out := render(t, variantNamed(t, "kubeflow-all").dir)
	envoy := out.deployment(t, "kfgate-envoy")
	want := "cluster.local/ns/" + envoy.Namespace + "/sa/" + envoy.Spec.Template.Spec.ServiceAccountName
	policies := out.ofKind("AuthorizationPolicy")
	if len(policies) == 0 {
		t.Fatal("no AuthorizationPolicy")
	}
	for _, p := range policies {
		action, _, _ := unstructured.NestedString(p.Object, "spec", "action")
		sel, _, _ := unstructured.NestedStringMap(p.Object, "spec", "selector", "matchLabels")
		rules, _, _ := unstructured.NestedSlice(p.Object, "spec", "rules")
		raw, err := sigsyaml.Marshal(rules)
		if err != nil {
			t.Fatal(err)
		}
		wantRules := "- from:\n  - source:\n      principals:\n      - " + want + "\n"
		if action != "ALLOW" || len(sel) == 0 || string(raw) != wantRules {
			t.Errorf("AuthorizationPolicy %s: %s %v %s; want ALLOW for one workload, from %s only", p.GetName(), action, sel, raw, want)
		}
	}
	tmpl := envoy.Spec.Template
	if tmpl.Labels["sidecar.istio.io/inject"] != "true" || tmpl.Annotations["traffic.sidecar.istio.io/excludeInboundPorts"] != "8080,8443" {
		t.Errorf("Envoy's pods: labels %v, annotations %v", tmpl.Labels, tmpl.Annotations)
	}
}

// TestNoCommittedSecrets: no build carries a session key or a Redis password (they are per
// installation); the only secret value in the repository is Kubeflow's public Dex client secret.
func TestNoCommittedSecrets(t *testing.T) {
	for _, b := range variants {
		t.Run(b.name, func(t *testing.T) {
			for _, s := range render(t, b.dir).ofKind("Secret") {
				data, _, _ := unstructured.NestedStringMap(s.Object, "data")
				for k := range data {
					if k != "client-secret" || b.namespace != "kubeflow" {
						t.Errorf("Secret %s holds %s: secrets are the installation's own (secrets.env)", s.GetName(), k)
					}
				}
			}
		})
	}
}
