package envoystandin

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// subscription is one resource type as Envoy tracks it on the ADS stream (GM).
type subscription struct {
	names      []string // named types only
	subscribed bool     // a request was sent (wildcard types: always)
	version    string   // last accepted version_info
	nonce      string   // last response nonce on the current stream
}

// ads is the client side of the ADS stream; used only by the follow goroutine.
type ads struct {
	e       *Envoy
	subs    map[string]*subscription
	ldsSent bool // LDS is requested once the clusters are initialised (init.rst)
	cdsAt   time.Time
}

// follow keeps an ADS stream open, reconnecting with a backoff as Envoy does, until Close.
func (e *Envoy) follow() {
	a := &ads{e: e, subs: map[string]*subscription{}}
	for _, t := range []string{resourcev3.ClusterType, resourcev3.ListenerType, resourcev3.EndpointType,
		resourcev3.RouteType, resourcev3.SecretType} {
		a.subs[t] = &subscription{}
	}
	backoff := 100 * time.Millisecond
	for e.ctx.Err() == nil {
		start := time.Now()
		err := a.session()
		if e.ctx.Err() != nil {
			return
		}
		if time.Since(start) > 5*time.Second {
			backoff = 100 * time.Millisecond
		}
		e.logf("envoystandin: ADS stream ended (%v); reconnecting in %v", err, backoff)
		select {
		case <-e.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

type received struct {
	resp *discoveryv3.DiscoveryResponse
	err  error
}

// session runs one stream: CDS first (the node on the first request), LDS once the clusters are
// initialised or the initial fetch timeout passed, then answers every response.
func (a *ads) session() error {
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(a.e.conn).StreamAggregatedResources(a.e.ctx)
	if err != nil {
		return err
	}
	in := make(chan received, 1)
	go func() {
		for {
			resp, err := stream.Recv()
			select {
			case in <- received{resp, err}:
			case <-a.e.ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	send := func(req *discoveryv3.DiscoveryRequest) error { return stream.Send(req) }
	for _, s := range a.subs {
		s.nonce = "" // nonces are per stream
	}
	reqs := []*discoveryv3.DiscoveryRequest{a.request(resourcev3.ClusterType)}
	reqs[0].Node = &corev3.Node{Id: a.e.opts.NodeID, Cluster: a.e.opts.NodeCluster, UserAgentName: "envoy"}
	for _, t := range []string{resourcev3.EndpointType, resourcev3.SecretType, resourcev3.RouteType} {
		if a.subs[t].subscribed {
			reqs = append(reqs, a.request(t))
		}
	}
	if a.ldsSent {
		reqs = append(reqs, a.request(resourcev3.ListenerType))
	}
	for _, r := range reqs {
		if err := send(r); err != nil {
			return err
		}
	}
	a.subs[resourcev3.ClusterType].subscribed = true
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-a.e.ctx.Done():
			return a.e.ctx.Err()
		case r := <-in:
			if r.err != nil {
				return r.err
			}
			if err := a.answer(r.resp, send); err != nil {
				return err
			}
		case <-tick.C:
		}
		if err := a.maybeLDS(send); err != nil {
			return err
		}
	}
}

// maybeLDS requests listeners once every EDS cluster has its endpoints, or the initial fetch
// timeout passed since the first clusters arrived.
func (a *ads) maybeLDS(send func(*discoveryv3.DiscoveryRequest) error) error {
	if a.ldsSent || a.cdsAt.IsZero() {
		return nil
	}
	cfg := a.e.cfg.Load()
	ready := true
	for _, n := range cfg.edsNames() {
		if cfg.endpoints[n] == nil {
			ready = false
		}
	}
	if !ready && time.Since(a.cdsAt) < a.e.opts.InitialFetchTimeout {
		return nil
	}
	a.ldsSent = true
	a.subs[resourcev3.ListenerType].subscribed = true
	return send(a.request(resourcev3.ListenerType))
}

// request is the type's current request: its names, last accepted version and last nonce.
func (a *ads) request(typeURL string) *discoveryv3.DiscoveryRequest {
	s := a.subs[typeURL]
	return &discoveryv3.DiscoveryRequest{TypeUrl: typeURL, ResourceNames: slices.Clone(s.names),
		VersionInfo: s.version, ResponseNonce: s.nonce}
}

// answer applies a response, updates the subscriptions it changes (sent before the ACK, as Envoy's
// paused EDS/RDS/SDS requests go out when the CDS/LDS update ends), then ACKs or NACKs it.
func (a *ads) answer(resp *discoveryv3.DiscoveryResponse, send func(*discoveryv3.DiscoveryRequest) error) error {
	typ := resp.GetTypeUrl()
	s := a.subs[typ]
	if s == nil {
		a.e.fail("xDS response of unknown type %s", typ)
		return nil
	}
	s.nonce = resp.GetNonce()
	cur := a.e.cfg.Load()
	var names []string // nil: a wildcard type, every resource is ours
	if typ != resourcev3.ClusterType && typ != resourcev3.ListenerType {
		names = append([]string{}, s.names...)
	}
	next, errs := a.e.apply(cur, typ, resp.GetResources(), names)
	next.activate()
	a.e.publish(next)
	if typ == resourcev3.ClusterType && a.cdsAt.IsZero() {
		a.cdsAt = time.Now()
	}
	for _, f := range a.followUps(typ, next) {
		if err := send(f); err != nil {
			return err
		}
	}
	ack := &discoveryv3.DiscoveryRequest{TypeUrl: typ, ResourceNames: slices.Clone(s.names), ResponseNonce: resp.GetNonce()}
	if len(errs) == 0 {
		s.version = resp.GetVersionInfo()
		ack.VersionInfo = s.version
		a.e.update(func(st *State) { st.Versions[typ] = s.version })
		return send(ack)
	}
	// NACK: the previous version, and why (GM: INTERNAL with the exception's text).
	ack.VersionInfo = s.version
	ack.ErrorDetail = &rpcstatus.Status{Code: int32(codes.Internal), Message: strings.Join(errs, "; ")}
	a.e.rejected(Rejection{TypeURL: typ, Version: resp.GetVersionInfo(), Nonce: resp.GetNonce(), Errors: errs})
	return send(ack)
}

// followUps are the subscription changes an applied response makes: EDS and SDS after CDS, RDS and
// SDS after LDS. Resources no longer subscribed to are forgotten.
func (a *ads) followUps(typ string, cfg *config) []*discoveryv3.DiscoveryRequest {
	var out []*discoveryv3.DiscoveryRequest
	resub := func(t string, names []string) {
		s := a.subs[t]
		if s.subscribed && slices.Equal(s.names, names) {
			return
		}
		if !s.subscribed && len(names) == 0 {
			return // an empty first request would be a wildcard subscription
		}
		s.names, s.subscribed = names, true
		out = append(out, a.request(t))
	}
	switch typ {
	case resourcev3.ClusterType:
		resub(resourcev3.EndpointType, cfg.edsNames())
		resub(resourcev3.SecretType, cfg.sdsNames())
	case resourcev3.ListenerType:
		resub(resourcev3.RouteType, cfg.rdsNames())
		resub(resourcev3.SecretType, cfg.sdsNames())
	default:
		return nil
	}
	a.e.forget(a.subs)
	return out
}

// forget drops named resources nobody subscribes to any more.
func (e *Envoy) forget(subs map[string]*subscription) {
	next := e.cfg.Load().clone()
	retain(next.endpoints, subs[resourcev3.EndpointType].names)
	retain(next.routes, subs[resourcev3.RouteType].names)
	retain(next.secrets, subs[resourcev3.SecretType].names)
	next.activate()
	e.publish(next)
}

// rejected records a NACK and reports it: a NACK fails the test unless Options.OnReject takes it.
// The report comes first, so that whoever waits on the State for the NACK finds it reported.
func (e *Envoy) rejected(r Rejection) {
	if e.opts.OnReject != nil {
		e.opts.OnReject(r)
	} else {
		e.fail("NACK %s version %q: %s", typeName(r.TypeURL), r.Version, strings.Join(r.Errors, "; "))
	}
	e.update(func(st *State) { st.Rejections = append(st.Rejections, r) })
}

// decodeAll unpacks a response's resources, each of the response's type; a named type (names
// not nil) ignores resources it did not ask for. Duplicate names are errors (Envoy rejects them).
func decodeAll[T proto.Message](resources []*anypb.Any, typeURL string, names []string, name func(T) string) ([]T, []string) {
	var out []T
	var errs []string
	seen := map[string]bool{}
	for i, a := range resources {
		if a.GetTypeUrl() != typeURL {
			errs = append(errs, fmt.Sprintf("resource %d: type %s in a %s response", i, a.GetTypeUrl(), typeName(typeURL)))
			continue
		}
		m, err := a.UnmarshalNew()
		if err != nil {
			errs = append(errs, fmt.Sprintf("resource %d: %v", i, err))
			continue
		}
		t := m.(T)
		n := name(t)
		if names != nil && !slices.Contains(names, n) {
			continue
		}
		if seen[n] {
			errs = append(errs, fmt.Sprintf("duplicate resource %q", n))
			continue
		}
		seen[n] = true
		out = append(out, t)
	}
	return out, errs
}
