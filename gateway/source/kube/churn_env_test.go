package kube_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/kfgate/kfgate/gateway/source/kube"
	"github.com/kfgate/kfgate/test/xdsclient"
)

// TestChurn writes a steady mix of Service and EndpointSlice changes (Mappings edited, Services deleted
// and created again, endpoints scaled and turning not-ready) for a bounded time, then checks that the
// routes and endpoints an ADS client holds are exactly the desired state: no update lost on the way.
// KFGATE_CHURN_SECONDS sets the duration (default 60).
func TestChurn(t *testing.T) {
	c := needCluster(t)
	ns := c.namespace(t)
	seconds := 60
	if v := os.Getenv("KFGATE_CHURN_SECONDS"); v != "" {
		if _, err := fmt.Sscan(v, &seconds); err != nil {
			t.Fatalf("KFGATE_CHURN_SECONDS=%q: %v", v, err)
		}
	}
	p := startPlane(t, c.cfg, "default", func(o *kube.Options) { o.Namespaces = []string{ns} })
	envoy := p.envoy(t, "envoy")

	const services = 30
	w := newWorld(c, ns)
	for i := range services {
		w.create(t, i)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	tick := time.NewTicker(25 * time.Millisecond) // 40 writes a second
	defer tick.Stop()
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)
	writes := 0
	for now := range tick.C {
		if now.After(deadline) {
			break
		}
		i := rng.IntN(services)
		switch r := rng.IntN(10); {
		case r < 6:
			w.scale(t, i, rng)
		case r < 9:
			w.edit(t, i)
		default:
			w.recreate(t, i)
		}
		writes++
	}
	// A last write to every object, so that each one's final state hangs on a single update.
	for i := range services {
		if !w.services[i] {
			w.create(t, i)
		}
		w.edit(t, i)
		w.scale(t, i, rng)
		writes += 2
	}
	routes, endpoints := w.desired()
	v := envoy.Wait(t, "the desired state after the churn", func(v xdsclient.View) bool {
		return maps.Equal(v.Routes(), routes) && maps.EqualFunc(v.Endpoints(), endpoints, slices.Equal)
	})
	t.Logf("%d writes in %ds; the client holds %d routes and %d load assignments, as desired", writes, seconds,
		len(v.Routes()), len(v.Endpoints()))
}

// world is what TestChurn wrote: per Service, its Mapping's prefix and its slice's endpoints.
type world struct {
	c        *cluster
	ns       string
	version  map[int]int
	slices   map[int]*discoveryv1.EndpointSlice
	ready    map[int][]string
	services map[int]bool
}

func newWorld(c *cluster, ns string) *world {
	return &world{c: c, ns: ns, version: map[int]int{}, slices: map[int]*discoveryv1.EndpointSlice{},
		ready: map[int][]string{}, services: map[int]bool{}}
}

func (w *world) name(i int) string { return fmt.Sprint("svc-", i) }

func (w *world) prefix(i int) string { return fmt.Sprintf("/svc-%d-v%d/", i, w.version[i]) }

func (w *world) create(t *testing.T, i int) {
	w.c.create(t, service(w.ns, w.name(i), mappingDoc(w.name(i), w.prefix(i), w.name(i))))
	w.services[i] = true
	if w.slices[i] == nil {
		sl := slice(w.ns, w.name(i), w.name(i), "10.2.0.1")
		w.c.create(t, sl)
		w.slices[i], w.ready[i] = sl, []string{"10.2.0.1:8080"}
	}
}

func (w *world) edit(t *testing.T, i int) {
	if !w.services[i] {
		w.create(t, i)
		return
	}
	w.version[i]++
	svc := service(w.ns, w.name(i), mappingDoc(w.name(i), w.prefix(i), w.name(i)))
	w.c.patchAnnotations(t, svc)
}

func (w *world) recreate(t *testing.T, i int) {
	if w.services[i] {
		w.c.delete(t, service(w.ns, w.name(i), ""))
		delete(w.services, i)
		return
	}
	w.create(t, i)
}

// scale gives the slice 0 to 4 endpoints, about a third of them not ready.
func (w *world) scale(t *testing.T, i int, rng *rand.Rand) {
	sl := w.slices[i]
	var addrs, ready []string
	for j := range rng.IntN(5) {
		a := fmt.Sprintf("10.2.%d.%d", i, j+1)
		if rng.IntN(3) == 0 {
			addrs = append(addrs, "!"+a)
			continue
		}
		addrs = append(addrs, a)
		ready = append(ready, a+":8080")
	}
	setAddresses(sl, addrs...)
	w.c.update(t, sl) // the slice object carries its resourceVersion from the last write
	slices.Sort(ready)
	w.ready[i] = append([]string{}, ready...)
}

func (w *world) desired() (map[string]string, map[string][]string) {
	routes, endpoints := map[string]string{}, map[string][]string{}
	for i := range w.services {
		cluster := w.ns + "/" + w.name(i) + "/80"
		routes["* "+w.prefix(i)] = cluster
		endpoints[cluster] = w.ready[i]
	}
	return routes, endpoints
}
