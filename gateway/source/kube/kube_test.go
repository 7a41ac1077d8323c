package kube_test

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kfgate/kfgate/gateway/source/kube"
	"github.com/kfgate/kfgate/test/xdsclient"
)

// TestServicesComeAndGo: an annotated Service created, edited and deleted in the API server is, each
// time, what an ADS client holds; a Service of another installation (ambassador_id) is not served.
func TestServicesComeAndGo(t *testing.T) {
	c := needCluster(t)
	ns := c.namespace(t)
	p := startPlane(t, c.cfg, "default", func(o *kube.Options) { o.Namespaces = []string{ns} })
	envoy := p.envoy(t, "envoy")
	envoy.Wait(t, "a first snapshot", func(v xdsclient.View) bool { return v.Version(routeType) != "" })

	svc := service(ns, "app", mappingDoc("app", "/app/", "app"))
	c.create(t, svc)
	other := service(ns, "other", mappingDoc("other", "/other/", "other")+"ambassador_id: [someone-else]\n")
	c.create(t, other)
	envoy.Wait(t, "/app/ routed", routeIs("* /app/", ns+"/app/80"))

	svc.Annotations["getambassador.io/config"] = mappingDoc("app", "/renamed/", "app")
	c.update(t, svc)
	v := envoy.Wait(t, "/renamed/ instead of /app/", func(v xdsclient.View) bool {
		r := v.Routes()
		_, old := r["* /app/"]
		return r["* /renamed/"] == ns+"/app/80" && !old
	})
	if _, ok := v.Routes()["* /other/"]; ok {
		t.Errorf("a Mapping of another ambassador_id is served: %v", v.Routes())
	}

	c.delete(t, svc)
	envoy.Wait(t, "no route once the Service is gone", func(v xdsclient.View) bool {
		_, ok := v.Routes()["* /renamed/"]
		return !ok
	})
	for _, m := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"kfgate_kube_watch_events_total", map[string]string{"kind": "service", "event": "add", "result": "queued"}, 2},
		{"kfgate_kube_watch_events_total", map[string]string{"kind": "service", "event": "delete", "result": "queued"}, 1},
		{"kfgate_kube_write_to_snapshot_seconds", nil, 3},
		{"kfgate_kube_debounce_wait_seconds", nil, 3},
		{"kfgate_builds_total", map[string]string{"result": "published"}, 4},
	} {
		if got := p.counter(t, m.name, m.labels); got < m.min {
			t.Errorf("%s%v = %v, want >= %v", m.name, m.labels, got, m.min)
		}
	}
}

// TestEndpointSlices: the endpoints an ADS client holds follow the Service's EndpointSlices as they
// scale up and down and as endpoints stop being ready.
func TestEndpointSlices(t *testing.T) {
	c := needCluster(t)
	ns := c.namespace(t)
	p := startPlane(t, c.cfg, "default", func(o *kube.Options) { o.Namespaces = []string{ns} })
	envoy := p.envoy(t, "envoy")
	c.create(t, service(ns, "model", mappingDoc("model", "/model/", "model")))
	sl := slice(ns, "model", "model-a", "10.0.0.1", "10.0.0.2")
	c.create(t, sl)
	cluster := ns + "/model/80"
	envoy.Wait(t, "two endpoints", endpointsAre(cluster, "10.0.0.1:8080", "10.0.0.2:8080"))

	setAddresses(sl, "10.0.0.1", "10.0.0.2", "10.0.0.3")
	c.update(t, sl)
	envoy.Wait(t, "scaled up to three", endpointsAre(cluster, "10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"))

	second := slice(ns, "model", "model-b", "10.0.1.1")
	c.create(t, second)
	envoy.Wait(t, "a second slice", endpointsAre(cluster, "10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080", "10.0.1.1:8080"))

	setAddresses(sl, "10.0.0.1", "!10.0.0.2", "!10.0.0.3")
	c.update(t, sl)
	envoy.Wait(t, "not-ready endpoints gone", endpointsAre(cluster, "10.0.0.1:8080", "10.0.1.1:8080"))

	c.delete(t, second)
	setAddresses(sl)
	c.update(t, sl)
	envoy.Wait(t, "scaled down to zero", endpointsAre(cluster))
}

func routeIs(route, cluster string) func(xdsclient.View) bool {
	return func(v xdsclient.View) bool { return v.Routes()[route] == cluster }
}

func endpointsAre(cluster string, want ...string) func(xdsclient.View) bool {
	return func(v xdsclient.View) bool {
		got, ok := v.Endpoints()[cluster]
		return ok && slices.Equal(got, append([]string{}, want...))
	}
}

// TestCompactAfterScaleDown: once the Services have halved from their peak, the Engine is replaced by a
// fresh copy of itself; what the client holds stays exactly right (a broken annotation's last valid
// version included) and later changes still flow.
func TestCompactAfterScaleDown(t *testing.T) {
	c := needCluster(t)
	ns := c.namespace(t)
	p := startPlane(t, c.cfg, "default", func(o *kube.Options) { o.Namespaces, o.CompactFrom = []string{ns}, 10 })
	envoy := p.envoy(t, "envoy")
	var svcs []*corev1.Service
	for i := range 12 {
		svc := service(ns, fmt.Sprint("s", i), mappingDoc(fmt.Sprint("s", i), fmt.Sprintf("/s%d/", i), fmt.Sprint("s", i)))
		c.create(t, svc)
		svcs = append(svcs, svc)
	}
	envoy.Wait(t, "12 routes", func(v xdsclient.View) bool { return len(v.Routes()) == 12 })
	svcs[0].Annotations["getambassador.io/config"] = mappingDoc("s0", "/s0-moved/", "s0") + "timeout_ms: soon\n"
	c.update(t, svcs[0]) // broken: its last valid version, /s0/, keeps serving
	c.waitEvent(t, ns, "s0", corev1.EventTypeWarning, "InvalidMapping")
	for _, svc := range svcs[5:] {
		c.delete(t, svc)
	}
	envoy.Wait(t, "the 5 routes left", func(v xdsclient.View) bool { return len(v.Routes()) == 5 && v.Routes()["* /s4/"] == ns+"/s4/80" })
	poll(t, "the Engine compacted", func() bool { return p.counter(t, "kfgate_builds_total", map[string]string{"result": "compacted"}) == 1 })
	c.create(t, service(ns, "late", mappingDoc("late", "/late/", "late")))
	v := envoy.Wait(t, "a change after the compaction", routeIs("* /late/", ns+"/late/80"))
	if len(v.Routes()) != 6 || v.Routes()["* /s0/"] != ns+"/s0/80" {
		t.Errorf("routes after the compaction: %v, want the 5 left (/s0/ at its last valid version) and /late/", v.Routes())
	}
}
