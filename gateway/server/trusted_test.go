package server

import (
	"context"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/kfgate/kfgate/test/xdsclient"
)

// TestTrustedDigestsAndUnchangedTypes covers the incremental publish: a RouteConfiguration whose
// producer gives its version is taken as it is (and pushed when that version changes), a trusted
// version applies to its own type only (a Listener may share the name), and a type handed over again
// as the very same slice keeps its version without being prepared again.
func TestTrustedDigestsAndUnchangedTypes(t *testing.T) {
	e := startEnv(t, Options{})
	r := build(t, defaultSpec())
	r.Listeners = []types.Resource{httpListener(t, routesName, routesName)} // same name as the routes
	trust := func(v string) map[string]map[string]Digest {
		return map[string]map[string]Digest{resourcev3.RouteType: {routesName: {Version: v, Size: 100}}}
	}
	r.Trusted = trust("routes-v1")
	e.publish(t, r)
	first := e.typeVersions()
	sotw := xdsclient.NewSotW(t, e.conn, "envoy")
	sotw.Await(first)

	// The same trusted version: nothing to push, whatever the message holds.
	r.Routes = build(t, spec{clusters: []string{"svc-a", "svc-b"}, port: 8080, tag: "v2"}).Routes
	if v := e.publish(t, r); v != e.srv.Version() || e.typeVersions()[resourcev3.RouteType] != first[resourcev3.RouteType] {
		t.Fatalf("a trusted version that did not change must keep the RDS version")
	}
	// A new trusted version: RDS only is pushed; the listener of the same name keeps its version.
	r.Trusted = trust("routes-v2")
	e.publish(t, r)
	next := e.typeVersions()
	if next[resourcev3.RouteType] == first[resourcev3.RouteType] {
		t.Fatal("a new trusted version must give RDS a new version")
	}
	for _, typ := range []string{resourcev3.ListenerType, resourcev3.ClusterType, resourcev3.EndpointType} {
		if next[typ] != first[typ] {
			t.Errorf("%s changed version (%s → %s) although only the routes changed", typ, first[typ], next[typ])
		}
	}
	got := sotw.Await(map[string]string{resourcev3.RouteType: next[resourcev3.RouteType]})
	if n := len(got[resourcev3.RouteType].GetResources()); n != 1 {
		t.Fatalf("the client got %d route configurations, want 1", n)
	}
}

// TestConsistencyStillCheckedWhenNamesStay: skipping the consistency walk must not let through a
// cluster that keeps its name but starts needing a load assignment that does not exist.
func TestConsistencyStillCheckedWhenNamesStay(t *testing.T) {
	e := startEnv(t, Options{})
	r := build(t, defaultSpec())
	dns := edsCluster("svc-dns")
	dns.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS}
	dns.EdsClusterConfig = nil
	dns.LoadAssignment = loadAssignment("svc-dns", "10.0.0.9", 80)
	r.Clusters = append(r.Clusters, dns)
	e.publish(t, r)
	before := e.srv.Version()

	next := build(t, defaultSpec())
	next.Clusters = append(next.Clusters, edsCluster("svc-dns")) // same name, now EDS, no assignment
	if _, err := e.srv.Publish(context.Background(), next); err == nil || !strings.Contains(err.Error(), "svc-dns") {
		t.Fatalf("an EDS cluster without its ClusterLoadAssignment must be refused, got %v", err)
	}
	if e.srv.Version() != before {
		t.Fatal("the refused snapshot replaced the served one")
	}
}
