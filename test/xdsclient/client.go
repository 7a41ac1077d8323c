// Package xdsclient is an ADS client that subscribes much as Envoy does, for tests: on a
// State-of-the-World or a Delta stream it subscribes to CDS and LDS (wildcard), follows them with EDS
// and RDS requests for the names they reference and SDS requests for the Secrets their TLS contexts
// reference, and ACKs every response, or NACKs one on request. Unlike Envoy, which asks for LDS only
// once CDS (and the EDS it needs) is warm, it requests LDS together with CDS: it tests what the
// server sends, not the order Envoy would ask in. Tests assert on what it received and wait on
// versions, never on time.
package xdsclient

import (
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/anypb"
)

// WaitTimeout bounds every wait in these tests; generous for -race.
const WaitTimeout = 20 * time.Second

// SotW is the client on an ADS SotW stream: it subscribes to CDS and
// LDS (wildcard) at once, follows them with EDS, RDS and SDS requests for the
// names they reference, and ACKs every response (or NACKs one on request).
type SotW struct {
	t      testing.TB
	stream grpc.BidiStreamingClient[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse]
	node   *corev3.Node
	out    chan *discoveryv3.DiscoveryResponse
	done   chan struct{}

	sendMu sync.Mutex
	mu     sync.Mutex
	names  map[string][]string // subscription by type; nil means wildcard
	nonce  map[string]string   // latest response nonce by type
	acked  map[string]string   // latest accepted version by type
	nack   map[string]string   // type -> error to NACK its next response with
	sds    map[string][]string // SDS names referenced, by the type referencing them (CDS, LDS)
}

// NewSotW opens a SotW ADS stream on conn as node nodeID and subscribes like Envoy.
func NewSotW(t testing.TB, conn *grpc.ClientConn, nodeID string) *SotW {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatalf("opening ADS stream: %v", err)
	}
	c := &SotW{
		t: t, stream: stream, node: &corev3.Node{Id: nodeID, Cluster: "kfgate-test"},
		out: make(chan *discoveryv3.DiscoveryResponse, 64), done: make(chan struct{}),
		names: map[string][]string{}, nonce: map[string]string{}, acked: map[string]string{}, nack: map[string]string{},
		sds: map[string][]string{},
	}
	// Envoy starts with the wildcard types; EDS, RDS and SDS follow their contents.
	c.send(&discoveryv3.DiscoveryRequest{Node: c.node, TypeUrl: resourcev3.ClusterType})
	c.send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.ListenerType})
	go c.recvLoop()
	return c
}

func (c *SotW) send(req *discoveryv3.DiscoveryRequest) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	// io.EOF means the server ended the stream; Recv reports why.
	if err := c.stream.Send(req); err != nil && !errors.Is(err, io.EOF) && c.stream.Context().Err() == nil {
		c.t.Errorf("sotw send %s: %v", req.GetTypeUrl(), err)
	}
}

// NackNext makes the client reject the next response of typeURL.
func (c *SotW) NackNext(typeURL, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nack[typeURL] = msg
}

func (c *SotW) recvLoop() {
	defer close(c.done)
	defer close(c.out)
	for {
		resp, err := c.stream.Recv()
		if err != nil {
			return
		}
		c.answer(resp)
		c.out <- resp
	}
}

// answer ACKs or NACKs resp, then subscribes to whatever it references.
func (c *SotW) answer(resp *discoveryv3.DiscoveryResponse) {
	typ := resp.GetTypeUrl()
	c.mu.Lock()
	c.nonce[typ] = resp.GetNonce()
	req := &discoveryv3.DiscoveryRequest{TypeUrl: typ, ResponseNonce: resp.GetNonce(), ResourceNames: c.names[typ]}
	if msg, ok := c.nack[typ]; ok {
		delete(c.nack, typ)
		req.VersionInfo = c.acked[typ]
		req.ErrorDetail = &rpcstatus.Status{Code: int32(codes.InvalidArgument), Message: msg}
	} else {
		c.acked[typ] = resp.GetVersionInfo()
		req.VersionInfo = resp.GetVersionInfo()
	}
	c.mu.Unlock()
	c.send(req)

	switch typ {
	case resourcev3.ClusterType:
		c.follow(resourcev3.EndpointType, EDSNames(c.t, resp.GetResources()))
		c.followSDS(typ, SDSNames(c.t, resp.GetResources()))
	case resourcev3.ListenerType:
		c.follow(resourcev3.RouteType, RDSNames(c.t, resp.GetResources()))
		c.followSDS(typ, SDSNames(c.t, resp.GetResources()))
	}
}

// followSDS records the Secrets the resources of type from reference and subscribes to those of
// listeners and clusters together. Like Envoy it asks for no Secret before one is referenced (an
// empty first request would be a wildcard); once subscribed, an empty list unsubscribes.
func (c *SotW) followSDS(from string, names []string) {
	c.mu.Lock()
	c.sds[from] = names
	all := slices.Concat(c.sds[resourcev3.ListenerType], c.sds[resourcev3.ClusterType])
	_, subscribed := c.names[resourcev3.SecretType]
	c.mu.Unlock()
	slices.Sort(all)
	all = slices.Compact(all)
	if len(all) == 0 && !subscribed {
		return
	}
	c.follow(resourcev3.SecretType, all)
}

// follow (re)subscribes typeURL to names when they changed, carrying the
// type's latest version and nonce as Envoy does.
func (c *SotW) follow(typeURL string, names []string) {
	c.mu.Lock()
	if old, ok := c.names[typeURL]; ok && slices.Equal(old, names) {
		c.mu.Unlock()
		return
	}
	c.names[typeURL] = names
	req := &discoveryv3.DiscoveryRequest{
		TypeUrl: typeURL, ResourceNames: names, VersionInfo: c.acked[typeURL], ResponseNonce: c.nonce[typeURL],
	}
	c.mu.Unlock()
	c.send(req)
}

// Done is closed when the stream has ended.
func (c *SotW) Done() <-chan struct{} { return c.done }

// Next returns the next response, failing the test after WaitTimeout.
func (c *SotW) Next() *discoveryv3.DiscoveryResponse {
	c.t.Helper()
	timer := time.NewTimer(WaitTimeout)
	defer timer.Stop()
	select {
	case resp, ok := <-c.out:
		if !ok {
			c.t.Fatal("sotw stream ended")
		}
		return resp
	case <-timer.C:
		c.t.Fatal("timed out waiting for a sotw response")
	}
	return nil
}

// Await reads responses until each type in want arrived with its version.
func (c *SotW) Await(want map[string]string) map[string]*discoveryv3.DiscoveryResponse {
	c.t.Helper()
	got := map[string]*discoveryv3.DiscoveryResponse{}
	for len(got) < len(want) {
		resp := c.Next()
		if v, ok := want[resp.GetTypeUrl()]; ok && v == resp.GetVersionInfo() {
			got[resp.GetTypeUrl()] = resp
		}
	}
	return got
}

// Delta is the client on an ADS Delta stream: wildcard CDS and LDS at
// once, EDS, RDS and SDS subscriptions following their contents, ACK by nonce.
type Delta struct {
	t      testing.TB
	stream grpc.BidiStreamingClient[discoveryv3.DeltaDiscoveryRequest, discoveryv3.DeltaDiscoveryResponse]
	out    chan *discoveryv3.DeltaDiscoveryResponse

	sendMu sync.Mutex
	mu     sync.Mutex
	state  map[string]map[string]*anypb.Any // by type, by name
	vers   map[string]map[string]string     // each resource's version, by type, by name
	subs   map[string][]string
	nack   map[string]string
}

// NewDelta opens a Delta ADS stream on conn as node nodeID and subscribes like Envoy.
func NewDelta(t testing.TB, conn *grpc.ClientConn, nodeID string) *Delta {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatalf("opening delta ADS stream: %v", err)
	}
	c := &Delta{
		t: t, stream: stream, out: make(chan *discoveryv3.DeltaDiscoveryResponse, 64),
		state: map[string]map[string]*anypb.Any{}, vers: map[string]map[string]string{}, subs: map[string][]string{}, nack: map[string]string{},
	}
	c.send(&discoveryv3.DeltaDiscoveryRequest{
		Node: &corev3.Node{Id: nodeID}, TypeUrl: resourcev3.ClusterType, ResourceNamesSubscribe: []string{"*"},
	})
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resourcev3.ListenerType, ResourceNamesSubscribe: []string{"*"}})
	go c.recvLoop()
	return c
}

func (c *Delta) send(req *discoveryv3.DeltaDiscoveryRequest) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if err := c.stream.Send(req); err != nil && !errors.Is(err, io.EOF) && c.stream.Context().Err() == nil {
		c.t.Errorf("delta send %s: %v", req.GetTypeUrl(), err)
	}
}

// NackNext makes the client reject the next response of typeURL.
func (c *Delta) NackNext(typeURL, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nack[typeURL] = msg
}

func (c *Delta) recvLoop() {
	defer close(c.out)
	for {
		resp, err := c.stream.Recv()
		if err != nil {
			return
		}
		c.answer(resp)
		c.out <- resp
	}
}

func (c *Delta) answer(resp *discoveryv3.DeltaDiscoveryResponse) {
	typ := resp.GetTypeUrl()
	req := &discoveryv3.DeltaDiscoveryRequest{TypeUrl: typ, ResponseNonce: resp.GetNonce()}
	c.mu.Lock()
	if msg, ok := c.nack[typ]; ok {
		delete(c.nack, typ)
		req.ErrorDetail = &rpcstatus.Status{Code: int32(codes.InvalidArgument), Message: msg}
	} else {
		c.apply(resp)
	}
	all := c.resources(typ)
	tlsUsers := slices.Concat(c.resources(resourcev3.ListenerType), c.resources(resourcev3.ClusterType))
	c.mu.Unlock()
	c.send(req)

	switch typ {
	case resourcev3.ClusterType:
		c.follow(resourcev3.EndpointType, EDSNames(c.t, all))
		c.follow(resourcev3.SecretType, SDSNames(c.t, tlsUsers))
	case resourcev3.ListenerType:
		c.follow(resourcev3.RouteType, RDSNames(c.t, all))
		c.follow(resourcev3.SecretType, SDSNames(c.t, tlsUsers))
	}
}

// apply merges an accepted response into the client's state; c.mu held.
func (c *Delta) apply(resp *discoveryv3.DeltaDiscoveryResponse) {
	m, vs := c.state[resp.GetTypeUrl()], c.vers[resp.GetTypeUrl()]
	if m == nil {
		m, vs = map[string]*anypb.Any{}, map[string]string{}
		c.state[resp.GetTypeUrl()], c.vers[resp.GetTypeUrl()] = m, vs
	}
	for _, r := range resp.GetResources() {
		m[r.GetName()], vs[r.GetName()] = r.GetResource(), r.GetVersion()
	}
	for _, name := range resp.GetRemovedResources() {
		delete(m, name)
		delete(vs, name)
	}
}

// resources lists the client's resources of a type sorted by name; c.mu held.
func (c *Delta) resources(typeURL string) []*anypb.Any {
	m := c.state[typeURL]
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]*anypb.Any, 0, len(names))
	for _, n := range names {
		out = append(out, m[n])
	}
	return out
}

// follow subscribes to names not yet subscribed and drops the rest.
func (c *Delta) follow(typeURL string, names []string) {
	c.mu.Lock()
	old := c.subs[typeURL]
	c.subs[typeURL] = names
	c.mu.Unlock()
	req := &discoveryv3.DeltaDiscoveryRequest{TypeUrl: typeURL}
	for _, n := range names {
		if !slices.Contains(old, n) {
			req.ResourceNamesSubscribe = append(req.ResourceNamesSubscribe, n)
		}
	}
	for _, n := range old {
		if !slices.Contains(names, n) {
			req.ResourceNamesUnsubscribe = append(req.ResourceNamesUnsubscribe, n)
		}
	}
	if len(req.ResourceNamesSubscribe)+len(req.ResourceNamesUnsubscribe) > 0 {
		c.send(req)
	}
}

// Snapshot returns a copy of the client's resources of one type.
func (c *Delta) Snapshot(typeURL string) map[string]*anypb.Any {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]*anypb.Any{}
	for k, v := range c.state[typeURL] {
		out[k] = v
	}
	return out
}

// Versions returns the version of each of the client's resources of one type, by name.
func (c *Delta) Versions(typeURL string) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.vers[typeURL])
}

// Next returns the next response, failing the test after WaitTimeout.
func (c *Delta) Next() *discoveryv3.DeltaDiscoveryResponse {
	c.t.Helper()
	timer := time.NewTimer(WaitTimeout)
	defer timer.Stop()
	select {
	case resp, ok := <-c.out:
		if !ok {
			c.t.Fatal("delta stream ended")
		}
		return resp
	case <-timer.C:
		c.t.Fatal("timed out waiting for a delta response")
	}
	return nil
}

// Await reads responses until each type in want arrived with its version.
func (c *Delta) Await(want map[string]string) {
	c.t.Helper()
	got := map[string]bool{}
	for len(got) < len(want) {
		resp := c.Next()
		if v, ok := want[resp.GetTypeUrl()]; ok && v == resp.GetSystemVersionInfo() {
			got[resp.GetTypeUrl()] = true
		}
	}
}

// EDSNames lists the ClusterLoadAssignments EDS clusters need, as Envoy
// would request them.
func EDSNames(t testing.TB, resources []*anypb.Any) []string {
	var names []string
	for _, a := range resources {
		var c clusterv3.Cluster
		if err := a.UnmarshalTo(&c); err != nil {
			t.Errorf("decoding cluster: %v", err)
			continue
		}
		if c.GetType() != clusterv3.Cluster_EDS {
			continue
		}
		name := c.GetEdsClusterConfig().GetServiceName()
		if name == "" {
			name = c.GetName()
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// RDSNames lists the RouteConfigurations listeners' HCMs use over RDS.
func RDSNames(t testing.TB, resources []*anypb.Any) []string {
	var names []string
	for _, a := range resources {
		var l listenerv3.Listener
		if err := a.UnmarshalTo(&l); err != nil {
			t.Errorf("decoding listener: %v", err)
			continue
		}
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				var hcm hcmv3.HttpConnectionManager
				if f.GetTypedConfig().UnmarshalTo(&hcm) == nil && hcm.GetRds() != nil {
					names = append(names, hcm.GetRds().GetRouteConfigName())
				}
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
