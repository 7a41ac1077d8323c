package kube_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/server"
	"github.com/kfgate/kfgate/test/xdsclient"
)

// These benchmarks measure the Kubernetes source at scale against the shared envtest API server:
// N annotated Services, each with one Mapping and one EndpointSlice, spread over benchNamespaces.
// They run only under -bench; KFGATE_BENCH_SCALE chooses N (comma-separated), default 1000,10000.
// The world is kept between benchmarks and only grown or shrunk, since building it is the expensive
// part (about 100 s for 10k Services and slices through one sequential client).

const (
	benchNamespaces   = 20
	benchWriters      = 16 // parallel API writes while building the world
	benchChanges      = 200
	benchChurnFor     = 60 * time.Second
	benchSyncWait     = 3 * time.Minute // a plane's first snapshot of the whole world
	benchEndpointType = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
)

// benchSeq numbers every change of the run, so that each new prefix and address is unique even
// across benchmarks sharing the world.
var benchSeq atomic.Int64

func benchScales(b *testing.B) []int {
	env := os.Getenv("KFGATE_BENCH_SCALE")
	if env == "" {
		return []int{1000, 10000}
	}
	var out []int
	for _, f := range strings.Split(env, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			b.Fatalf("KFGATE_BENCH_SCALE=%q: want numbers >= 2, comma-separated", env)
		}
		out = append(out, n)
	}
	return out
}

// benchWorld is what the benchmarks created, by index: Service i is bench-(i%20)/s<i>.
type benchWorld struct {
	svcs   []*corev1.Service
	slices []*discoveryv1.EndpointSlice
	nsDone bool
	broken error // a resize failed: what the world holds is unknown
}

var benchState benchWorld

func benchName(i int) (ns, name string) {
	return fmt.Sprintf("bench-%d", i%benchNamespaces), "s" + strconv.Itoa(i)
}

// resize grows or shrinks the world to n Services, writing in parallel.
func (w *benchWorld) resize(b *testing.B, c *cluster, n int) {
	b.Helper()
	start, had := time.Now(), len(w.svcs)
	if w.broken != nil {
		b.Fatalf("an earlier resize failed: %v", w.broken)
	}
	if had == n {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if !w.nsDone {
		for i := range benchNamespaces {
			ns, _ := benchName(i)
			err := c.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				b.Fatal(err)
			}
		}
		w.nsDone = true
	}
	var g errgroup.Group
	g.SetLimit(benchWriters)
	if n > had {
		w.svcs, w.slices = slices.Grow(w.svcs, n-had)[:n], slices.Grow(w.slices, n-had)[:n]
		for i := had; i < n; i++ {
			g.Go(func() error { return w.create(ctx, c, i) })
		}
	} else {
		for i := n; i < had; i++ {
			g.Go(func() error { return w.delete(ctx, c, i) })
		}
	}
	if err := g.Wait(); err != nil {
		w.broken = fmt.Errorf("resizing the world from %d to %d Services: %w", had, n, err)
		b.Fatal(w.broken)
	}
	w.svcs, w.slices = w.svcs[:n], w.slices[:n]
	b.Logf("world resized from %d to %d Services (+ slices) in %s", had, n, time.Since(start).Round(time.Millisecond))
}

func (w *benchWorld) create(ctx context.Context, c *cluster, i int) error {
	ns, name := benchName(i)
	svc := service(ns, name, mappingDoc(name, "/"+name+"/", name))
	sl := slice(ns, name, name+"-1", fmt.Sprintf("10.0.%d.%d", i/250, i%250+1))
	if err := c.c.Create(ctx, svc); err != nil {
		return err
	}
	if err := c.c.Create(ctx, sl); err != nil {
		return err
	}
	w.svcs[i], w.slices[i] = svc, sl
	return nil
}

func (w *benchWorld) delete(ctx context.Context, c *cluster, i int) error {
	for _, obj := range []client.Object{w.slices[i], w.svcs[i]} {
		if err := c.c.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// setPrefix changes Service i's Mapping to a new, unique prefix and returns it.
func (w *benchWorld) setPrefix(ctx context.Context, c *cluster, i int) (string, error) {
	svc := w.svcs[i]
	prefix := fmt.Sprintf("/%s-c%d/", svc.Name, benchSeq.Add(1))
	svc.Annotations[mapping.AnnotationAmbassador] = mappingDoc(svc.Name, prefix, svc.Name)
	return prefix, c.c.Update(ctx, svc)
}

// setAddress gives Service i's slice a new, unique address (all of them 14 characters, so that none
// is part of another) and returns it.
func (w *benchWorld) setAddress(ctx context.Context, c *cluster, i int) (string, error) {
	k := benchSeq.Add(1)
	addr := fmt.Sprintf("10.%d.%d.%d", 100+k/10000%100, 100+k/100%100, 100+k%100)
	setAddresses(w.slices[i], addr)
	return addr, c.c.Update(ctx, w.slices[i])
}

// benchHolds is true once the latest response of typeURL carries needle (a route prefix or an address).
// Scanning the encoded resources keeps the check far cheaper than decoding 10k of them per response.
func benchHolds(typeURL, needle string) func(xdsclient.View) bool {
	nb := []byte(needle)
	return func(v xdsclient.View) bool {
		for _, a := range v.Responses[typeURL].GetResources() {
			if bytes.Contains(a.GetValue(), nb) {
				return true
			}
		}
		return false
	}
}

func benchRouteCount(n int) func(xdsclient.View) bool {
	return func(v xdsclient.View) bool { return len(v.Routes()) == n }
}

// benchWriteToACK makes one change and returns the time from just before its API write to the arrival
// (ACKed) of the first response of typeURL holding it.
func benchWriteToACK(ctx context.Context, m *xdsclient.Mirror, typeURL string, write func(context.Context) (string, error)) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, xdsclient.WaitTimeout)
	defer cancel()
	start := time.Now()
	needle, err := write(ctx)
	if err != nil {
		return 0, err
	}
	v, err := m.Until(ctx, benchHolds(typeURL, needle))
	if err != nil {
		return 0, fmt.Errorf("waiting for %s in %s: %w", needle, typeURL, err)
	}
	return v.At[typeURL].Sub(start), nil
}

// benchPlane starts a control plane watching every namespace, without an election, and an Envoy
// mirror holding the whole world.
func benchPlane(b *testing.B, c *cluster, n int) (*plane, *xdsclient.Mirror) {
	b.Helper()
	start := time.Now()
	p := startPlane(b, c.cfg, "default", nil)
	envoy := p.envoy(b, "envoy")
	ctx, cancel := context.WithTimeout(context.Background(), benchSyncWait)
	defer cancel()
	if v, err := envoy.Until(ctx, benchRouteCount(n)); err != nil {
		b.Fatalf("waiting for %d routes: %v; the client holds %d", n, err, len(v.Routes()))
	}
	b.Logf("plane serving %d routes %s after its start", n, time.Since(start).Round(time.Millisecond))
	return p, envoy
}

// benchMetrics are a plane's counters and histogram sums and counts, by name and "type" label.
type benchMetrics map[string]float64

func gatherBench(b *testing.B, p *plane) benchMetrics {
	b.Helper()
	mfs, err := p.reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	out := benchMetrics{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				if l.GetName() == "type" {
					key += "/" + l.GetValue() // rds, cds, eds, lds
				}
			}
			out[key] += m.GetCounter().GetValue()
			out[key+"_sum"] += m.GetHistogram().GetSampleSum()
			out[key+"_count"] += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return out
}

// logBreakdown says where the time of the changes between two gatherings went, on the plane's side.
func logBreakdown(b *testing.B, before, after benchMetrics) {
	b.Helper()
	d := func(k string) float64 { return after[k] - before[k] }
	mean := func(name string) float64 { return 1000 * d(name+"_sum") / max(1, d(name+"_count")) }
	rebuilds := d("kfgate_rebuild_duration_seconds_count")
	b.ReportMetric(mean("kfgate_rebuild_duration_seconds"), "rebuild-ms")
	b.Logf("plane: %.0f rebuilds, each waiting %.1f ms in the debounce, then %.1f ms to build and publish (of which %.1f ms publish); "+
		"pushes per rebuild: %.2f RDS, %.2f CDS, %.2f EDS, %.2f LDS; ACK latency RDS %.1f ms, EDS %.1f ms",
		rebuilds, mean("kfgate_kube_debounce_wait_seconds"), mean("kfgate_rebuild_duration_seconds"),
		mean("kfgate_snapshot_publish_duration_seconds"),
		d("kfgate_xds_pushes_total/rds")/max(1, rebuilds), d("kfgate_xds_pushes_total/cds")/max(1, rebuilds),
		d("kfgate_xds_pushes_total/eds")/max(1, rebuilds), d("kfgate_xds_pushes_total/lds")/max(1, rebuilds),
		mean("kfgate_xds_ack_latency_seconds/rds"), mean("kfgate_xds_ack_latency_seconds/eds"))
}

func benchPercentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func benchMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkWriteToACK: sequential Mapping changes, each from its API write to an ACKed
// RouteConfiguration holding it. Targets at 10k: p50 <= 25 ms, p99 <= 100 ms.
func BenchmarkWriteToACK(b *testing.B) {
	c := needCluster(b)
	for _, n := range benchScales(b) {
		b.Run("N="+strconv.Itoa(n), func(b *testing.B) {
			benchState.resize(b, c, n)
			p, envoy := benchPlane(b, c, n)
			before := gatherBench(b, p)
			var lat []time.Duration
			for b.Loop() {
				for k := range benchChanges {
					i := k * (n / benchChanges) % n
					d, err := benchWriteToACK(context.Background(), envoy, routeType, func(ctx context.Context) (string, error) {
						return benchState.setPrefix(ctx, c, i)
					})
					if err != nil {
						b.Fatal(err)
					}
					lat = append(lat, d)
				}
			}
			logBreakdown(b, before, gatherBench(b, p))
			p50, p99 := benchPercentile(lat, 50), benchPercentile(lat, 99)
			b.ReportMetric(benchMS(p50), "p50-ms")
			b.ReportMetric(benchMS(p99), "p99-ms")
			b.ReportMetric(benchMS(benchPercentile(lat, 100)), "max-ms")
			b.Logf("N=%d: %d changes, write to ACK p50 %.1f ms, p99 %.1f ms, max %.1f ms",
				n, len(lat), benchMS(p50), benchMS(p99), benchMS(benchPercentile(lat, 100)))
		})
	}
}

// BenchmarkChurn: Mapping changes (1/s) and EndpointSlice address changes (10/s) in the background for
// benchChurnFor, each measured from its API write to the ACKed RDS or EDS response holding it.
// Target at 10k: p99 <= 150 ms. Largest first: the world is at its largest after BenchmarkWriteToACK.
func BenchmarkChurn(b *testing.B) {
	c := needCluster(b)
	scales := benchScales(b)
	slices.Reverse(scales)
	for _, n := range scales {
		b.Run("N="+strconv.Itoa(n), func(b *testing.B) {
			benchState.resize(b, c, n)
			p, envoy := benchPlane(b, c, n)
			before := gatherBench(b, p)
			var routes, eps []time.Duration
			for b.Loop() {
				r, e := benchChurn(b, c, envoy, n)
				routes, eps = append(routes, r...), append(eps, e...)
			}
			logBreakdown(b, before, gatherBench(b, p))
			all := append(slices.Clone(routes), eps...)
			b.ReportMetric(benchMS(benchPercentile(all, 99)), "p99-ms")
			b.ReportMetric(benchMS(benchPercentile(routes, 99)), "mapping-p99-ms")
			b.ReportMetric(benchMS(benchPercentile(eps, 99)), "slice-p99-ms")
			b.ReportMetric(benchMS(benchPercentile(all, 50)), "p50-ms")
			b.ReportMetric(float64(len(all)), "samples")
			b.Logf("N=%d: %d Mapping changes p50 %.1f ms p99 %.1f ms; %d slice changes p50 %.1f ms p99 %.1f ms; all p99 %.1f ms",
				n, len(routes), benchMS(benchPercentile(routes, 50)), benchMS(benchPercentile(routes, 99)),
				len(eps), benchMS(benchPercentile(eps, 50)), benchMS(benchPercentile(eps, 99)), benchMS(benchPercentile(all, 99)))
		})
	}
}

// benchChurn runs the background changes for benchChurnFor: slices of the first half of the Services,
// Mappings of the second half, round robin, so that no object has two changes in flight.
func benchChurn(b *testing.B, c *cluster, envoy *xdsclient.Mirror, n int) (routes, eps []time.Duration) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	measure := func(into *[]time.Duration, typeURL string, write func(context.Context) (string, error)) {
		wg.Go(func() {
			d, err := benchWriteToACK(context.Background(), envoy, typeURL, write)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			*into = append(*into, d)
		})
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	end := time.Now().Add(benchChurnFor)
	for k := 0; time.Now().Before(end); k++ {
		<-tick.C
		i := k % (n / 2)
		measure(&eps, benchEndpointType, func(ctx context.Context) (string, error) { return benchState.setAddress(ctx, c, i) })
		if k%10 == 0 {
			j := n/2 + k/10%(n-n/2)
			measure(&routes, routeType, func(ctx context.Context) (string, error) { return benchState.setPrefix(ctx, c, j) })
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		b.Fatalf("%d of the changes failed, the first: %v", len(errs), errs[0])
	}
	return routes, eps
}

// BenchmarkColdStart runs the kfgate binary against the world: process start to the first snapshot
// holding every route (target <= 3 s at 10k), and its RSS then (targets <= 60 MiB at 1k, <= 250 MiB at
// 10k). The largest world is then shrunk back to the smallest with the process running: is its RSS,
// once the runtime had time to return memory (nothing forced), back within 10% of a fresh process's?
func BenchmarkColdStart(b *testing.B) {
	c := needCluster(b)
	dir := b.TempDir()
	bin := benchBuildKfgate(b, dir)
	kubeconfig := benchKubeconfig(b, c, dir)
	scales := benchScales(b)
	var baseRSS float64 // MiB, of a fresh process at scales[0]
	for _, n := range scales {
		b.Run("N="+strconv.Itoa(n), func(b *testing.B) {
			benchState.resize(b, c, n)
			p := benchStartKfgate(b, bin, kubeconfig)
			v := p.wait(b, n, benchSyncWait)
			cold := v.At[routeType].Sub(p.start)
			rss, anon := p.rss(b)
			ready := p.readyAfter()
			b.ReportMetric(cold.Seconds(), "cold-start-s")
			b.ReportMetric(ready.Seconds(), "ready-s")
			b.ReportMetric(rss, "rss-MiB")
			b.ReportMetric(anon, "rss-anon-MiB")
			b.Logf("N=%d: first snapshot with every route %.2f s after the process started (/readyz %.2f s); RSS %.1f MiB (anon %.1f); %s",
				n, cold.Seconds(), ready.Seconds(), rss, anon, p.heap(b))
			switch {
			case n == scales[0]:
				baseRSS = rss
			case n == slices.Max(scales) && baseRSS > 0:
				p.shrink(b, c, scales[0], baseRSS)
			}
		})
	}
}

func benchBuildKfgate(b *testing.B, dir string) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, "kfgate")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/kfgate/kfgate/cmd/kfgate").CombinedOutput()
	if err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// benchKubeconfig writes a kubeconfig for the envtest admin.
func benchKubeconfig(b *testing.B, c *cluster, dir string) string {
	b.Helper()
	host := c.cfg.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: c.cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: c.cfg.CertData, ClientKeyData: c.cfg.KeyData,
		Token: c.cfg.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.CurrentContext = "envtest"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// benchProc is a running `kfgate serve --source kubernetes` and an Envoy mirror connected to it.
type benchProc struct {
	cmd   *exec.Cmd
	start time.Time
	envoy *xdsclient.Mirror
	diag  string       // base URL of its diagnostics server
	ready atomic.Int64 // nanoseconds from start to the first 200 from /readyz; 0 until then
}

func benchStartKfgate(b *testing.B, bin, kubeconfig string) *benchProc {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	cmd := exec.CommandContext(ctx, bin, "serve", "--source", "kubernetes", "--kubeconfig", kubeconfig,
		"--leader-election=false", "--xds-address", "127.0.0.1:0", "--diagnostics-address", "127.0.0.1:0")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	banner := newBenchBanner()
	cmd.Stdout, cmd.Stderr = io.Discard, banner
	p := &benchProc{cmd: cmd, start: time.Now()}
	if err := cmd.Start(); err != nil {
		cancel()
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cancel()
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			b.Errorf("kfgate: %v; its last lines:\n%s", err, banner.tail())
		}
	})
	var xdsAddr, diagAddr string
	select {
	case a := <-banner.addrs:
		xdsAddr, diagAddr = a[0], a[1]
	case <-time.After(30 * time.Second):
		b.Fatalf("kfgate printed no addresses; its last lines:\n%s", banner.tail())
	}
	conn, err := grpc.NewClient(xdsAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(server.DefaultMaxSendMsgSize)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	p.envoy = xdsclient.NewSotW(b, conn, "envoy").Mirror()
	p.diag = "http://" + diagAddr
	go p.pollReady(ctx, p.diag+"/readyz")
	return p
}

func (p *benchProc) pollReady(ctx context.Context, url string) {
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.ready.Store(int64(time.Since(p.start)))
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readyAfter is when /readyz first answered 200, waiting a little for it: readiness is published
// with the first snapshot, but polled.
func (p *benchProc) readyAfter() time.Duration {
	for deadline := time.Now().Add(10 * time.Second); p.ready.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	return time.Duration(p.ready.Load())
}

func (p *benchProc) wait(b *testing.B, n int, limit time.Duration) xdsclient.View {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	v, err := p.envoy.Until(ctx, benchRouteCount(n))
	if err != nil {
		b.Fatalf("waiting for %d routes from kfgate: %v; the client holds %d", n, err, len(v.Routes()))
	}
	return v
}

// rss is the process's resident set, in MiB: VmRSS, and RssAnon, its part not backed by files (most
// of the rest is the binary's own pages).
func (p *benchProc) rss(b *testing.B) (total, anon float64) {
	b.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" || (f[0] != "VmRSS:" && f[0] != "RssAnon:") {
			continue
		}
		kb, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			b.Fatal(err)
		}
		if f[0] == "VmRSS:" {
			total = kb / 1024
		} else {
			anon = kb / 1024
		}
	}
	if total == 0 {
		b.Fatal("no VmRSS in /proc/PID/status")
	}
	return total, anon
}

// heap describes the Go heap of the process, from its /metrics, to tell the heap from the rest of
// the RSS and live memory from memory the runtime keeps.
func (p *benchProc) heap(b *testing.B) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.diag+"/metrics", nil)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	want := []string{"go_memstats_heap_inuse_bytes", "go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes",
		"go_memstats_next_gc_bytes", "go_memstats_stack_inuse_bytes", "go_memstats_sys_bytes"}
	got := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && slices.Contains(want, f[0]) {
			got[f[0]], _ = strconv.ParseFloat(f[1], 64)
		}
	}
	var parts []string
	for _, k := range want {
		parts = append(parts, fmt.Sprintf("%s %.1f MiB", strings.TrimSuffix(strings.TrimPrefix(k, "go_memstats_"), "_bytes"), got[k]/(1<<20)))
	}
	return strings.Join(parts, ", ")
}

// shrink deletes Services (and their slices) down to n, waits until the routes say so, then watches
// the RSS for up to 130 s (past the runtime's forced GC every 2 minutes) for it to come within 10% of
// base.
func (p *benchProc) shrink(b *testing.B, c *cluster, n int, base float64) {
	b.Helper()
	benchState.resize(b, c, n)
	p.wait(b, n, benchSyncWait)
	rss, anon := p.rss(b)
	b.Logf("routes down to %d: RSS %.1f MiB (anon %.1f); %s", n, rss, anon, p.heap(b))
	settled, start := time.Now(), time.Now()
	for rss > 1.1*base && time.Since(start) < 130*time.Second {
		time.Sleep(time.Second)
		rss, anon = p.rss(b)
		settled = time.Now()
	}
	within := 0.0
	if rss <= 1.1*base {
		within = 1
	}
	b.ReportMetric(rss, "rss-shrunk-MiB")
	b.ReportMetric(anon, "rss-anon-shrunk-MiB")
	b.ReportMetric(within, "rss-back-within-10pct")
	b.Logf("shrunk to %d Services: RSS %.1f MiB (anon %.1f) %.0f s after the routes reflected it, against %.1f MiB for a fresh process (within 10%%: %v); %s",
		n, rss, anon, settled.Sub(start).Seconds(), base, within == 1, p.heap(b))
}

// benchBanner is kfgate's stderr: it finds the addresses in the banner and keeps the last lines.
type benchBanner struct {
	mu       sync.Mutex
	partial  []byte
	lines    []string
	xds      string
	addrs    chan [2]string
	notified bool
}

func newBenchBanner() *benchBanner { return &benchBanner{addrs: make(chan [2]string, 1)} }

func (w *benchBanner) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	sc := bufio.NewScanner(bytes.NewReader(w.partial))
	consumed := 0
	for sc.Scan() {
		if consumed+len(sc.Bytes()) >= len(w.partial) { // no newline yet
			break
		}
		consumed += len(sc.Bytes()) + 1
		w.line(sc.Text())
	}
	w.partial = slices.Clone(w.partial[consumed:])
	return len(p), nil
}

func (w *benchBanner) line(l string) {
	w.lines = append(w.lines, l)
	if len(w.lines) > 40 {
		w.lines = w.lines[1:]
	}
	f := strings.Fields(l)
	switch {
	case strings.HasPrefix(l, "  xDS (ADS, gRPC):") && len(f) > 0:
		w.xds = f[len(f)-1]
	case strings.HasPrefix(l, "  diagnostics:") && len(f) > 0 && w.xds != "" && !w.notified:
		w.notified = true
		w.addrs <- [2]string{w.xds, strings.TrimSuffix(strings.TrimPrefix(f[len(f)-1], "http://"), "/")}
	}
}

func (w *benchBanner) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}
