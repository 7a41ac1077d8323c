package kube_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kfgate/kfgate/gateway/build"
	"github.com/kfgate/kfgate/gateway/controlplane"
	"github.com/kfgate/kfgate/gateway/diagnostics"
	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/server"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/gateway/source/kube"
	"github.com/kfgate/kfgate/test/apiserver"
	"github.com/kfgate/kfgate/test/xdsclient"
)

// shared is the API server most tests share, each in namespaces of its own; nil when envtest's
// binaries are missing (see TestMain).
var shared *cluster

// TestMain starts one real API server (envtest: kube-apiserver and etcd, built by
// test/envtest/assets.sh and found through KUBEBUILDER_ASSETS, which `make test` sets).
func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard()) // the replicas log through their own loggers (KFGATE_TEST_LOG)
	klog.SetLogger(logr.Discard())    // client-go's leader election and reflectors
	if !apiserver.Available() {       // own start below: the scale tests widen the Service range and restart it
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: the envtest tests skip (run `make test`)")
		os.Exit(m.Run())
	}
	c, err := startCluster("")
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		os.Exit(1)
	}
	shared = c
	code := m.Run()
	if err := c.env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
	}
	os.Exit(code)
}

// cluster is a running envtest API server and an admin client.
type cluster struct {
	env *envtest.Environment
	cfg *rest.Config
	c   client.Client
}

// startCluster starts an API server; certDir, when set, keeps its certificates across a restart.
func startCluster(certDir string) (*cluster, error) {
	env := &envtest.Environment{}
	api := env.ControlPlane.GetAPIServer()
	// The default range holds about 250 Services; the scale tests and benchmarks need 10,000.
	api.Configure().Set("service-cluster-ip-range", "10.96.0.0/12")
	if certDir != "" {
		api.CertDir = certDir
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 500, 1000
	c, err := client.New(cfg, client.Options{Scheme: scheme()})
	if err != nil {
		return nil, err
	}
	return &cluster{env: env, cfg: cfg, c: c}, nil
}

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, discoveryv1.AddToScheme, eventsv1.AddToScheme,
		rbacv1.AddToScheme, coordinationv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

func needCluster(t testing.TB) *cluster {
	t.Helper()
	if shared == nil {
		t.Skip("no envtest API server (KUBEBUILDER_ASSETS unset): run `make test`")
	}
	return shared
}

var nsCount atomic.Int64

// namespace creates a fresh namespace for one test.
func (c *cluster) namespace(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d-%s", nsCount.Add(1), strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")))
	if len(name) > 50 {
		name = strings.TrimRight(name[:50], "-")
	}
	c.create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	return name
}

func (c *cluster) create(t testing.TB, obj client.Object) {
	t.Helper()
	if err := c.c.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

func (c *cluster) update(t testing.TB, obj client.Object) {
	t.Helper()
	if err := c.c.Update(context.Background(), obj); err != nil {
		t.Fatalf("updating %T %s: %v", obj, obj.GetName(), err)
	}
}

func (c *cluster) delete(t testing.TB, obj client.Object) {
	t.Helper()
	if err := c.c.Delete(context.Background(), obj); err != nil {
		t.Fatalf("deleting %T %s: %v", obj, obj.GetName(), err)
	}
}

// plane is one kfgate control plane replica: the Kubernetes source feeding a Runner, its xDS server on
// a loopback port, and its metrics.
type plane struct {
	srv    *server.Server
	diag   *diagnostics.Server
	reg    *prometheus.Registry
	conn   *grpc.ClientConn
	addr   string
	opts   kube.Options
	cancel context.CancelFunc
	done   chan struct{}
}

// testLeader has short Lease timings, so that a test sees leadership move within seconds.
func testLeader(ns, identity string) kube.LeaderElection {
	return kube.LeaderElection{Namespace: ns, Name: "kfgate-test", Identity: identity,
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 250 * time.Millisecond}
}

// startPlane runs a control plane against cfg until the test ends (or stop). mod adjusts its options;
// by default it watches the given namespaces and writes Events without an election.
func startPlane(t testing.TB, cfg *rest.Config, id string, mod func(*kube.Options)) *plane {
	t.Helper()
	return startPlaneAt(t, cfg, id, "127.0.0.1:0", mod)
}

func startPlaneAt(t testing.TB, cfg *rest.Config, id, addr string, mod func(*kube.Options)) *plane {
	t.Helper()
	return startPlaneLogged(t, cfg, id, addr, testLogger(t), mod)
}

// startPlaneLogged is startPlaneAt with every component of the replica logging to log.
func startPlaneLogged(t testing.TB, cfg *rest.Config, id, addr string, log logr.Logger, mod func(*kube.Options)) *plane {
	t.Helper()
	reg := prometheus.NewRegistry()
	srv := server.New(server.Options{Registry: reg, Logger: log.WithName("xds")})
	diag := diagnostics.New(reg, srv.Ready)
	runner := controlplane.New(build.Options{ID: id}, srv, diag, reg, log.WithName("build"))
	opts := kube.Options{Config: cfg, Debounce: source.DefaultDebounce, Leader: kube.LeaderElection{Disabled: true},
		Component: "kfgate", Logger: log.WithName("kube"), Registry: reg}
	if mod != nil {
		mod(&opts)
	}
	src, err := kube.New(opts, runner)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &plane{srv: srv, diag: diag, reg: reg, addr: lis.Addr().String(), opts: opts, cancel: cancel, done: make(chan struct{})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ctx, lis); err != nil {
			t.Errorf("xDS server: %v", err)
		}
	}()
	go func() {
		defer close(p.done)
		if err := src.Run(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("kube source: %v", err)
		}
		<-served
	}()
	t.Cleanup(p.stop)
	p.conn, err = grpc.NewClient(p.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(server.DefaultMaxSendMsgSize)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.conn.Close() })
	return p
}

// stop ends the replica and waits for it to let go of everything (the Lease included).
func (p *plane) stop() {
	p.cancel()
	<-p.done
}

// envoy connects an Envoy-like SotW client and mirrors what it holds.
func (p *plane) envoy(t testing.TB, node string) *xdsclient.Mirror {
	t.Helper()
	return xdsclient.NewSotW(t, p.conn, node).Mirror()
}

// counter reads a counter or gauge of the replica's registry (of a histogram: its sample count),
// summed over the series whose labels include want.
func (p *plane) counter(t testing.TB, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := p.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metric
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

func testLogger(t testing.TB) logr.Logger {
	if os.Getenv("KFGATE_TEST_LOG") == "" {
		return logr.Discard()
	}
	z, err := zap.NewDevelopment()
	if err != nil {
		t.Fatal(err)
	}
	return zapr.NewLogger(z).WithValues("test", t.Name())
}

// mappingDoc is one Mapping document of an annotation.
func mappingDoc(name, prefix, service string) string {
	return fmt.Sprintf("---\napiVersion: getambassador.io/v2\nkind: Mapping\nname: %s\nprefix: %s\nservice: %s\n", name, prefix, service)
}

// service is an annotated Service with one port "http" 80.
func service(ns, name, config string) *corev1.Service {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	if config != "" {
		svc.Annotations = map[string]string{mapping.AnnotationAmbassador: config}
	}
	return svc
}

// slice is an EndpointSlice of a Service's port "http" (8080) with ready addresses, and not-ready ones
// after a "!".
func slice(ns, svc, name string, addrs ...string) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
		Labels: map[string]string{discoveryv1.LabelServiceName: svc}}, AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}}}
	setAddresses(sl, addrs...)
	return sl
}

func setAddresses(sl *discoveryv1.EndpointSlice, addrs ...string) {
	sl.Endpoints = nil
	for _, a := range addrs {
		ready := !strings.HasPrefix(a, "!")
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{strings.TrimPrefix(a, "!")},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)}})
	}
}

// events lists kfgate's events.k8s.io Events about a Service (the API server writes some of its own,
// such as ClusterIPNotAllocated from its IP allocator's repair loop).
func (c *cluster) events(t testing.TB, ns, svc string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := c.c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == "Service" && e.Regarding.Name == svc && strings.HasPrefix(e.ReportingController, "kfgate") {
			out = append(out, e)
		}
	}
	return out
}

// waitEvent polls the API server until an Event about the Service with this type and reason exists,
// and returns it. Events are written asynchronously, so there is no version to wait on.
func (c *cluster) waitEvent(t testing.TB, ns, svc, typ, reason string) eventsv1.Event {
	t.Helper()
	var found eventsv1.Event
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, xdsclient.WaitTimeout, true,
		func(context.Context) (bool, error) {
			for _, e := range c.events(t, ns, svc) {
				if e.Type == typ && e.Reason == reason {
					found = e
					return true, nil
				}
			}
			return false, nil
		})
	if err != nil {
		t.Fatalf("no %s Event %s on Service %s/%s; it has %v", typ, reason, ns, svc, c.events(t, ns, svc))
	}
	return found
}

const routeType = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"

func itoa(i int) string { return fmt.Sprint(i) }

// patchAnnotations sets a Service's annotations with a merge patch (no resourceVersion needed).
func (c *cluster) patchAnnotations(t testing.TB, svc *corev1.Service) {
	t.Helper()
	patch := client.MergeFrom(&corev1.Service{})
	if err := c.c.Patch(context.Background(), svc, patch); err != nil {
		t.Fatalf("patching Service %s: %v", svc.Name, err)
	}
}

// poll checks cond until it holds, failing after WaitTimeout: for what has no version to wait on
// (metrics, Events).
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, xdsclient.WaitTimeout, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
