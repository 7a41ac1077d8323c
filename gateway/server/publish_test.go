package server

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kfgate/kfgate/test/xdsclient"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestInvalidOrInconsistentPublishIsRejected(t *testing.T) {
	e := startEnv(t, Options{})
	s := defaultSpec()
	v1 := e.publish(t, build(t, s))
	sotw := xdsclient.NewSotW(t, e.conn, "envoy-sotw")
	sotw.Await(e.typeVersions())

	cases := []struct {
		name   string
		mutate func(*Resources)
		want   []string // substrings of the error
	}{
		{"cluster with empty name", func(r *Resources) { r.Clusters[0].(*clusterv3.Cluster).Name = "" },
			[]string{"Cluster #0", "empty name"}},
		{"cluster failing ValidateAll", func(r *Resources) {
			r.Clusters[1].(*clusterv3.Cluster).ConnectTimeout = durationpb.New(-time.Second)
		}, []string{`Cluster "svc-b"`, "ConnectTimeout", "greater than 0s"}},
		{"duplicate cluster", func(r *Resources) { r.Clusters = append(r.Clusters, edsCluster("svc-a")) },
			[]string{`Cluster "svc-a"`, "duplicate"}},
		{"resource of the wrong type", func(r *Resources) { r.Clusters[0] = loadAssignment("svc-a", "10.0.0.1", 80) },
			[]string{"Cluster #0", "is a envoy.config.endpoint.v3.ClusterLoadAssignment"}},
		{"nil resource", func(r *Resources) { r.Endpoints[0] = (*clusterv3.Cluster)(nil) },
			[]string{"ClusterLoadAssignment #0", "nil resource"}},
		{"route with invalid regex", func(r *Resources) {
			r.Routes[0] = routeConfig(routesName, regexRoute("/api/(unclosed", "svc-a"))
		}, []string{`RouteConfiguration "http-routes"`, "invalid regex", "/api/(unclosed"}},
		{"listener failing ValidateAll", func(r *Resources) {
			r.Listeners[0].(*listenerv3.Listener).FilterChains[0].Filters[0].Name = ""
		}, []string{`Listener "http"`, "Filter.Name"}},
		{"HTTP connection manager inside listener invalid", func(r *Resources) {
			r.Listeners[0] = listenerWithHCM(t, listenerName, &hcmv3.HttpConnectionManager{
				RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{ConfigSource: adsSource(), RouteConfigName: routesName}},
			})
		}, []string{`Listener "http"`, "HttpConnectionManager", "StatPrefix"}},
		{"listener names a missing RouteConfiguration", func(r *Resources) {
			r.Listeners[0] = httpListener(t, listenerName, "no-such-routes")
		}, []string{"inconsistent", `RouteConfiguration "no-such-routes" is referenced but missing`,
			`RouteConfiguration "http-routes" is not referenced`}},
		{"EDS cluster without ClusterLoadAssignment", func(r *Resources) { r.Endpoints = r.Endpoints[:1] },
			[]string{"inconsistent", `ClusterLoadAssignment "svc-b" is referenced but missing`}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, s)
			tc.mutate(&r)
			v, err := e.srv.Publish(context.Background(), r)
			if err == nil {
				t.Fatalf("Publish accepted it as %s", v)
			}
			t.Logf("error: %v", err)
			if !containsAll(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if got := e.srv.Version(); got != v1 {
				t.Errorf("Version = %s after failed Publish, want %s", got, v1)
			}
			if n := e.srv.Stats().PublishFailures; n != uint64(i+1) {
				t.Errorf("PublishFailures = %d, want %d", n, i+1)
			}
		})
	}
	if n := e.metric(t, "kfgate_snapshot_publish_failures_total"); n != float64(len(cases)) {
		t.Errorf("publish_failures_total = %v, want %d", n, len(cases))
	}

	// None of the failures reached the client: its next response is the
	// first valid change.
	s.port = 9090
	e.publish(t, build(t, s))
	if resp := sotw.Next(); resp.GetTypeUrl() != resourcev3.EndpointType {
		t.Fatalf("after failed publishes the client got %s, want the EDS change", kindOf(resp.GetTypeUrl()))
	}
}

func TestIdenticalContentIsANoOp(t *testing.T) {
	e := startEnv(t, Options{})
	s := defaultSpec()
	v1 := e.publish(t, build(t, s))
	sotw := xdsclient.NewSotW(t, e.conn, "envoy-sotw")
	sotw.Await(e.typeVersions())
	before := e.srv.Stats()

	// Freshly built, equal content.
	if v := e.publish(t, build(t, s)); v != v1 {
		t.Fatalf("equal content got version %s, want %s", v, v1)
	}
	if after := e.srv.Stats(); after.Publishes != before.Publishes {
		t.Errorf("Publishes %d -> %d for equal content", before.Publishes, after.Publishes)
	}
	s.port = 9090
	e.publish(t, build(t, s))
	if resp := sotw.Next(); resp.GetTypeUrl() != resourcev3.EndpointType {
		t.Fatalf("client got %s, want only the later EDS change", kindOf(resp.GetTypeUrl()))
	}
}

func TestVersionIsDeterministic(t *testing.T) {
	ctx := context.Background()
	s := defaultSpec()
	s.clusters = []string{"svc-a", "svc-b", "svc-c", "svc-d"}

	a := build(t, s)
	addTypedMetadata(t, a.Clusters[0].(*clusterv3.Cluster))
	va, err := New(Options{}).Publish(ctx, a)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}

	// Same content: every slice reversed, and the Any re-packed, which
	// encodes its Struct's map in a different random order.
	b := build(t, s)
	addTypedMetadata(t, b.Clusters[0].(*clusterv3.Cluster))
	slices.Reverse(b.Clusters)
	slices.Reverse(b.Endpoints)
	aAny := a.Clusters[0].(*clusterv3.Cluster).GetMetadata().GetTypedFilterMetadata()["kfgate"].GetValue()
	bAny := b.Clusters[3].(*clusterv3.Cluster).GetMetadata().GetTypedFilterMetadata()["kfgate"].GetValue()
	t.Logf("Any bytes identical before canonicalisation: %v", bytes.Equal(aAny, bAny))
	vb, err := New(Options{}).Publish(ctx, b)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if va != vb {
		t.Fatalf("same content in another order: versions %s and %s", va, vb)
	}

	s.tag = "v2"
	vc, err := New(Options{}).Publish(ctx, build(t, s))
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if vc == va {
		t.Fatalf("different content, same version %s", va)
	}
}

// addTypedMetadata attaches an Any wrapping a map-heavy Struct, the kind of
// value anypb.New encodes non-deterministically.
func addTypedMetadata(t *testing.T, c *clusterv3.Cluster) {
	t.Helper()
	fields := map[string]any{}
	for i := range 64 {
		fields[fmt.Sprintf("key-%02d", i)] = i
	}
	st, err := structpb.NewStruct(fields)
	if err != nil {
		t.Fatalf("building struct: %v", err)
	}
	c.Metadata = &corev3.Metadata{TypedFilterMetadata: map[string]*anypb.Any{"kfgate": mustAny(t, st)}}
}

func TestLargeRouteConfigurationIsDelivered(t *testing.T) {
	e := startEnv(t, Options{})
	s := defaultSpec()
	e.publish(t, build(t, s))
	sotw := xdsclient.NewSotW(t, e.conn, "envoy-sotw")
	delta := xdsclient.NewDelta(t, e.conn, "envoy-delta")
	sotw.Await(e.typeVersions())
	delta.Await(e.typeVersions())

	const services, mappings = 10000, 2
	r := build(t, s)
	r.Routes = []types.Resource{largeRoutes(services, mappings)}
	size := proto.Size(r.Routes[0])

	start := time.Now()
	e.publish(t, r)
	published := time.Since(start)
	want := map[string]string{resourcev3.RouteType: e.srv.TypeVersion(resourcev3.RouteType)}
	got := sotw.Await(want)[resourcev3.RouteType]
	sotwDone := time.Since(start)
	delta.Await(want)
	deltaDone := time.Since(start)

	var rc routev3.RouteConfiguration
	if err := got.GetResources()[0].UnmarshalTo(&rc); err != nil {
		t.Fatalf("decoding RouteConfiguration: %v", err)
	}
	if n := routeCount(&rc); n != services*mappings {
		t.Fatalf("client received %d routes, want %d", n, services*mappings)
	}
	t.Logf("RouteConfiguration with %d routes: %d bytes (%.2f MiB); SotW response %d bytes; server send limit %d MiB",
		services*mappings, size, float64(size)/(1<<20), proto.Size(got), DefaultMaxSendMsgSize>>20)
	t.Logf("Publish took %v; SotW client had it after %v, Delta client after %v", published, sotwDone, deltaDone)
}

func TestTypeOverSendLimitIsRejected(t *testing.T) {
	e := startEnv(t, Options{MaxSendMsgSize: 1 << 20})
	v1 := e.publish(t, build(t, defaultSpec()))
	r := build(t, defaultSpec())
	r.Routes = []types.Resource{largeRoutes(10000, 2)}
	_, err := e.srv.Publish(context.Background(), r)
	if err == nil || !strings.Contains(err.Error(), "send limit") {
		t.Fatalf("Publish error = %v, want a send limit error", err)
	}
	t.Logf("error: %v", err)
	if e.srv.Version() != v1 {
		t.Errorf("Version changed to %s", e.srv.Version())
	}
}

// TestAdoptServesNewMessagesWithoutPushing: the same content in new messages is a no-op unless
// adopted; adopted, the snapshot holds the new messages, the versions stay, and a connected client is
// sent nothing: its next response is that of the next real change.
func TestAdoptServesNewMessagesWithoutPushing(t *testing.T) {
	e := startEnv(t, Options{})
	first := build(t, defaultSpec())
	v1 := e.publish(t, first)
	client := xdsclient.NewSotW(t, e.conn, "envoy")
	client.Await(map[string]string{resourcev3.RouteType: e.srv.TypeVersion(resourcev3.RouteType)})

	served := func() types.Resource {
		snap, err := e.srv.cache.GetSnapshot(sharedNodeKey)
		if err != nil {
			t.Fatal(err)
		}
		return snap.GetResources(resourcev3.RouteType)[routesName]
	}
	old := served() // the server's canonical copy of first's route table
	again := build(t, defaultSpec())
	if v := e.publish(t, again); v != v1 || served() != old {
		t.Fatalf("equal content without Adopt: version %s (want %s), and the old messages must stay", v, v1)
	}
	again.Adopt = true
	if v := e.publish(t, again); v != v1 || served() == old {
		t.Fatalf("adopted: version %s (want %s), and the new messages must be served", v, v1)
	}

	next := defaultSpec()
	next.tag = "v2"
	e.publish(t, build(t, next))
	want := e.srv.TypeVersion(resourcev3.RouteType)
	for {
		resp := client.Next()
		if resp.GetTypeUrl() != resourcev3.RouteType {
			continue
		}
		if resp.GetVersionInfo() != want {
			t.Fatalf("the client was sent route version %s before the change's %s: adopting pushed", resp.GetVersionInfo(), want)
		}
		break
	}
}
