package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/xds"
	"github.com/kfgate/kfgate/kubeflow"
	"github.com/kfgate/kfgate/test/envoystandin"
	"github.com/kfgate/kfgate/test/oidcprovider"
)

const (
	clientID     = "kfgate"
	clientSecret = "kfgate-e2e-client-secret"
	audience     = "pipelines.kubeflow.org"
)

// world is the whole installation: the API server's client, the upstreams, kfgate serve and authn,
// the IdP and the Envoy in front, reached at gateway (http://127.0.0.1:PORT).
type world struct {
	t         *testing.T
	cs        *kubernetes.Clientset
	echo      *upstream
	tf        *upstream
	jupyter   *upstream // the notebook routed with Kubeflow's defaults
	rstudio   *upstream // the notebook whose Notebook rewrites its path and sets a header
	idp       *oidcprovider.Provider
	gateway   string
	authnHTTP string // kfgate authn's HTTP address (/metrics)
	diag      string // kfgate serve's diagnostics address (/config.json)
	dir       string
	ns        string // the tenant namespace (a Kubeflow profile's): the model, the notebooks; e2e-<random>
	gwNS      string // the trusted namespace (Kubeflow's kubeflow): the AuthService and the catch-all; <ns>-gw
}

// startWorld starts every component; they stop when t ends.
func startWorld(t *testing.T) *world {
	t.Helper()
	need(t, kube != nil, "the envtest API server (KUBEBUILDER_ASSETS)")
	w := &world{t: t, cs: kubernetes.NewForConfigOrDie(kubeCfg), dir: t.TempDir(), ns: "e2e-" + strings.ToLower(rand.Text()[:8])}
	w.gwNS = w.ns + "-gw"
	kubeconfig := w.write("kubeconfig", string(kube.KubeConfig))
	w.echo = startEcho(t)
	w.tf = startTFServing(t, "tf-1")
	w.jupyter = startNotebook(t, jupyterName, w.notebookPath(jupyterName))
	w.rstudio = startNotebook(t, rstudioName, "/")
	w.installNotebookCRD()

	xdsAddr, listenerPort := loopback(freePort(t)), freePort(t)
	diag := loopback(freePort(t))
	startProcess(t, kfgateBin, "serve", "--source", "kubernetes", "--kubeconfig", kubeconfig,
		"--xds-address", xdsAddr, "--diagnostics-address", diag, "--listener-port", strconv.Itoa(listenerPort),
		"--leader-election-namespace", "default", "--lease-duration", "4s", "--renew-deadline", "3s", "--retry-period", "1s",
		"--kubeflow-models", "--trusted-namespaces", w.gwNS, "--log-level", "info")
	waitHealthy(t, "kfgate serve /healthz", "http://"+diag+"/healthz")
	w.diag = diag
	w.gateway = "http://" + w.startEnvoy(xdsAddr, uint32(listenerPort)) //nolint:gosec // a TCP port fits

	w.idp = oidcprovider.Start(t, oidcprovider.Options{Clients: []oidcprovider.Client{{
		ID: clientID, Secret: clientSecret, RedirectURIs: []string{w.gateway + "/authservice/oidc/callback"},
		PostLogoutRedirectURIs: []string{w.gateway + "/"},
	}}})
	authzPort := w.startAuthn(kubeconfig)
	w.createObjects(authzPort)
	return w
}

func (w *world) write(name, content string) string {
	w.t.Helper()
	p := filepath.Join(w.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// startEnvoy starts the stand-in, or the real Envoy at $KFGATE_ENVOY_BIN, on kfgate's xDS server, and
// returns the address of its HTTP listener.
func (w *world) startEnvoy(xdsAddr string, port uint32) string {
	t := w.t
	addr := loopback(int(port))
	if bin := os.Getenv("KFGATE_ENVOY_BIN"); bin != "" {
		boot, err := xds.Bootstrap(xds.BootstrapOptions{XDSAddress: xdsAddr, NodeID: "e2e-envoy", Cluster: "kfgate",
			AdminPort: uint32(freePort(t))}, "yaml") //nolint:gosec // a TCP port fits
		if err != nil {
			t.Fatal(err)
		}
		startProcess(t, bin, "-c", w.write("envoy.yaml", string(boot)), "--log-level", "warn",
			"--base-id", strconv.Itoa(int(port)))
		return addr
	}
	e, err := envoystandin.Start(context.Background(), envoystandin.Options{XDSAddress: xdsAddr, NodeID: "e2e-envoy",
		NodeCluster: "kfgate", Ports: map[uint32]string{port: addr}, TB: t})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e.Addr(port)
}

// startAuthn runs `kfgate authn` against the IdP and the API server, and returns its gRPC port.
func (w *world) startAuthn(kubeconfig string) int {
	t := w.t
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	grpcPort, httpAddr := freePort(t), loopback(freePort(t))
	cfg := fmt.Sprintf(`grpcAddress: %s
httpAddress: %s
oidc:
  issuer: %s
  clientID: %s
  clientSecretFile: %s
  probeInterval: 1s
session:
  keyFiles: [%s]
skipAuth:
  - prefix: /dex/
bearer:
  kubernetes:
    mode: tokenreview
    issuer: %s
    audiences: [%s]
`, loopback(grpcPort), httpAddr, w.idp.Issuer, clientID, w.write("client-secret", clientSecret+"\n"),
		w.write("session-key", base64.StdEncoding.EncodeToString(key)),
		kube.ControlPlane.APIServer.SecureServing.URL("https", "/").String(), audience)
	startProcess(t, kfgateBin, "authn", "--config", w.write("authn.yaml", cfg), "--insecure-cookies",
		"--kubeconfig", kubeconfig)
	waitHealthy(t, "kfgate authn /readyz", "http://"+httpAddr+"/readyz")
	w.authnHTTP = httpAddr
	return grpcPort
}

// createObjects creates the two namespaces: the trusted one with the echo Service (the AuthService
// and the catch-all Mapping), as Kubeflow's kubeflow namespace, and the tenant's, a profile's, with
// the mnist TF Serving Service and the two notebooks (Notebook and Service); with EndpointSlices
// pointing at the upstreams.
func (w *world) createObjects(authzPort int) {
	t := w.t
	ctx := context.Background()
	for _, ns := range []string{w.gwNS, w.ns} {
		if _, err := w.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.cs.CoreV1().ServiceAccounts(w.ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default-editor"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`---
apiVersion: getambassador.io/v2
kind: AuthService
name: authn
auth_service: 127.0.0.1:%d
proto: grpc
---
apiVersion: getambassador.io/v2
kind: Mapping
name: echo
prefix: /
service: echo:80
`, authzPort)
	echo := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "echo", Annotations: map[string]string{mapping.AnnotationAmbassador: config}},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	// The API server outlives the test (and has no namespace controller, so the namespaces stay):
	// the Services go with it, so that another run in the same process does not meet this run's
	// model name, nor its gateway namespace's documents (a tenant's, to that run's kfgate serve).
	t.Cleanup(func() {
		_ = w.cs.CoreV1().Services(w.gwNS).Delete(context.Background(), "echo", metav1.DeleteOptions{})
		_ = w.cs.CoreV1().Services(w.ns).Delete(context.Background(), "mnist", metav1.DeleteOptions{})
	})
	if _, err := w.cs.CoreV1().Services(w.gwNS).Create(ctx, echo, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.putSlice(w.gwNS, "echo", "echo-1", "http", w.echo.port)
	if _, err := w.cs.CoreV1().Services(w.ns).Create(ctx, tfServingService("mnist"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.putSlice(w.ns, "mnist", "mnist-1", "http-tf-serving", w.tf.port)
	w.createNotebook(jupyterName, nil, w.jupyter)
	w.createNotebook(rstudioName, map[string]string{
		kubeflow.AnnotationNotebookRewrite: "/",
		kubeflow.AnnotationNotebookHeaders: fmt.Sprintf(`{"X-RStudio-Root-Path": %q}`, w.notebookPath(rstudioName)),
	}, w.rstudio)
}

// tfServingService is a Service as Kubeflow's TF Serving template makes it: REST on http-tf-serving.
func tfServingService(name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{
			{Name: "grpc-tf-serving", Port: 9000}, {Name: "http-tf-serving", Port: 8500},
		}}}
}

// putSlice creates or replaces an EndpointSlice of Service ns/svc: one ready endpoint, hostIP, on port.
func (w *world) putSlice(ns, svc, name, portName string, port int32) {
	w.t.Helper()
	sl := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(portName), Port: ptr.To(port)}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{hostIP(w.t)}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}}}
	api := w.cs.DiscoveryV1().EndpointSlices(ns)
	ctx := context.Background()
	_ = api.Delete(ctx, name, metav1.DeleteOptions{})
	if _, err := api.Create(ctx, sl, metav1.CreateOptions{}); err != nil {
		w.t.Fatal(err)
	}
}

// authnMetric reads one unlabelled sample from kfgate authn's /metrics ("" when absent).
func (w *world) authnMetric(t *testing.T, name string) string {
	t.Helper()
	resp, err := http.Get("http://" + w.authnHTTP + "/metrics")
	if err != nil {
		return ""
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
