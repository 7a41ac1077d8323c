package kube_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kfgate/kfgate/gateway/source/kube"
	"github.com/kfgate/kfgate/test/xdsclient"
)

// TestBrokenAnnotationEvents: a broken annotation yields one Warning Event on its Service naming the
// field, while the rest of the configuration is served; rebuilds for other reasons add no Event; the
// fix yields a Normal Event. A Mapping colliding with an older one of another namespace is told so.
func TestBrokenAnnotationEvents(t *testing.T) {
	c := needCluster(t)
	ns := c.namespace(t)
	p := startPlane(t, c.cfg, "default", func(o *kube.Options) { o.Namespaces = []string{ns} })
	envoy := p.envoy(t, "envoy")

	good := service(ns, "good", mappingDoc("good", "/good/", "good"))
	c.create(t, good)
	bad := service(ns, "bad", mappingDoc("bad", "/bad/", "bad")+"timeout_ms: soon\n")
	c.create(t, bad)
	envoy.Wait(t, "the good Service routed", routeIs("* /good/", ns+"/good/80"))

	ev := c.waitEvent(t, ns, "bad", corev1.EventTypeWarning, "InvalidMapping")
	if !strings.Contains(ev.Note, "timeout_ms") || !strings.Contains(ev.Note, `Mapping "bad"`) {
		t.Errorf("the Warning names neither the field nor the document: %q", ev.Note)
	}
	if ev.ReportingController != "kfgate" || ev.Regarding.UID != bad.UID {
		t.Errorf("Event from %q about %v, want kfgate about the Service's UID %s", ev.ReportingController, ev.Regarding, bad.UID)
	}
	if _, ok := envoy.View().Routes()["* /bad/"]; ok {
		t.Error("the broken Mapping is served")
	}

	// Other changes rebuild; the broken Service's diagnostics are the same, so nothing is said again.
	for _, prefix := range []string{"/good2/", "/good3/"} {
		good.Annotations["getambassador.io/config"] = mappingDoc("good", prefix, "good")
		c.update(t, good)
		envoy.Wait(t, prefix+" routed", routeIs("* "+prefix, ns+"/good/80"))
	}

	bad.Annotations["getambassador.io/config"] = mappingDoc("bad", "/bad/", "bad")
	c.update(t, bad)
	envoy.Wait(t, "the fixed Service routed", routeIs("* /bad/", ns+"/bad/80"))
	c.waitEvent(t, ns, "bad", corev1.EventTypeNormal, "ConfigurationValid")
	warnings := 0
	for _, e := range c.events(t, ns, "bad") {
		if e.Type == corev1.EventTypeWarning {
			warnings++
			if e.Series != nil {
				t.Errorf("the Warning was repeated: series %+v", e.Series)
			}
		}
	}
	if warnings != 1 {
		t.Errorf("%d Warning Events on the broken Service, want 1", warnings)
	}
	if evs := c.events(t, ns, "good"); len(evs) != 0 {
		t.Errorf("Events on the valid Service: %v", evs)
	}
	if got := p.counter(t, "kfgate_kube_events_written_total", nil); got != 2 {
		t.Errorf("kfgate_kube_events_written_total = %v, want 2 (one Warning, one Normal)", got)
	}
}

// TestMappingNamesAcrossNamespaces: Mapping names are per namespace, so the same name in two namespaces
// is two Mappings; two Mappings claiming the same route collide, the older keeps it and the newer's
// Service gets a MappingConflict Event.
func TestMappingNamesAcrossNamespaces(t *testing.T) {
	c := needCluster(t)
	ns1, ns2 := c.namespace(t), c.namespace(t)
	p := startPlane(t, c.cfg, "default", func(o *kube.Options) { o.Namespaces = []string{ns1, ns2} })
	envoy := p.envoy(t, "envoy")

	c.create(t, service(ns1, "app", mappingDoc("app", "/one/", "app")))
	c.create(t, service(ns2, "app", mappingDoc("app", "/two/", "app")))
	envoy.Wait(t, "both Mappings named app routed", func(v xdsclient.View) bool {
		r := v.Routes()
		return r["* /one/"] == ns1+"/app/80" && r["* /two/"] == ns2+"/app/80"
	})
	if evs := append(c.events(t, ns1, "app"), c.events(t, ns2, "app")...); len(evs) != 0 {
		t.Errorf("Events for Mappings that do not conflict: %v", evs)
	}

	c.create(t, service(ns2, "thief", mappingDoc("thief", "/one/", "thief")))
	ev := c.waitEvent(t, ns2, "thief", corev1.EventTypeWarning, "MappingConflict")
	if !strings.Contains(ev.Note, ns1) {
		t.Errorf("the conflict does not name the winner's namespace: %q", ev.Note)
	}
	if r := envoy.View().Routes(); r["* /one/"] != ns1+"/app/80" {
		t.Errorf("/one/ routes to %q, want the older Mapping's %s/app/80", r["* /one/"], ns1)
	}
}

// TestWatchNamespaces: a replica watching some namespaces serves their Services only.
func TestWatchNamespaces(t *testing.T) {
	c := needCluster(t)
	watched, other := c.namespace(t), c.namespace(t)
	p := startPlane(t, c.cfg, "default", func(o *kube.Options) { o.Namespaces = []string{watched} })
	envoy := p.envoy(t, "envoy")
	c.create(t, service(other, "outside", mappingDoc("outside", "/outside/", "outside")))
	c.create(t, service(watched, "inside", mappingDoc("inside", "/inside/", "inside")))
	v := envoy.Wait(t, "the watched namespace's route", routeIs("* /inside/", watched+"/inside/80"))
	if _, ok := v.Routes()["* /outside/"]; ok {
		t.Errorf("a Service of an unwatched namespace is served: %v", v.Routes())
	}
}
