package envoystandin

import (
	"fmt"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// apply builds the configuration a response makes of cur, and the errors of the resources it
// rejected (their previous versions are kept).
func (e *Envoy) apply(cur *config, typeURL string, res []*anypb.Any, names []string) (*config, []string) {
	next := cur.clone()
	var errs []string
	switch typeURL {
	case resourcev3.ClusterType:
		errs = e.applyClusters(next, res)
	case resourcev3.EndpointType:
		cls, derrs := decodeAll(res, typeURL, names, (*endpointv3.ClusterLoadAssignment).GetClusterName)
		errs = derrs
		for _, c := range cls {
			eps, err := compileEndpoints(c, "")
			if err != nil {
				errs = append(errs, fmt.Sprintf("ClusterLoadAssignment %q: %v", c.GetClusterName(), err))
				continue
			}
			next.endpoints[c.GetClusterName()] = eps
		}
	case resourcev3.ListenerType:
		errs = e.applyListeners(next, res)
	case resourcev3.RouteType:
		rcs, derrs := decodeAll(res, typeURL, names, (*routev3.RouteConfiguration).GetName)
		errs = derrs
		for _, rc := range rcs {
			rt, err := compileRoutes(rc)
			if err != nil {
				errs = append(errs, fmt.Sprintf("RouteConfiguration %q: %v", rc.GetName(), err))
				continue
			}
			next.routes[rc.GetName()] = rt
		}
	case resourcev3.SecretType:
		secs, derrs := decodeAll(res, typeURL, names, (*tlsv3.Secret).GetName)
		errs = derrs
		for _, s := range secs {
			sec, err := compileSecret(s)
			if err != nil {
				errs = append(errs, fmt.Sprintf("Secret %q: %v", s.GetName(), err)) // never the content
				continue
			}
			next.secrets[s.GetName()] = sec
		}
	}
	return next, errs
}

// applyClusters replaces the clusters: the response's valid clusters, the previous version of each
// rejected one, none of those absent (CDS). An unchanged cluster keeps its state (connections,
// balancer, circuit breakers).
func (e *Envoy) applyClusters(next *config, res []*anypb.Any) []string {
	cls, errs := decodeAll(res, resourcev3.ClusterType, nil, (*clusterv3.Cluster).GetName)
	old := next.clusters
	next.clusters = map[string]*cluster{}
	for _, c := range cls {
		if prev := old[c.GetName()]; prev != nil && proto.Equal(prev.src, c) {
			next.clusters[c.GetName()] = prev
			continue
		}
		compiled, err := e.compileCluster(c)
		if err != nil {
			errs = append(errs, fmt.Sprintf("cluster %q: %v", c.GetName(), err))
			if prev := old[c.GetName()]; prev != nil {
				next.clusters[c.GetName()] = prev
			}
			continue
		}
		next.clusters[c.GetName()] = compiled
	}
	for name, c := range old {
		if next.clusters[name] != c {
			c.closeIdle()
		}
	}
	return errs
}

// applyListeners replaces the listeners as applyClusters does the clusters (LDS). Two listeners may
// not share a port.
func (e *Envoy) applyListeners(next *config, res []*anypb.Any) []string {
	ls, errs := decodeAll(res, resourcev3.ListenerType, nil, (*listenerv3.Listener).GetName)
	old := next.listeners
	next.listeners = map[string]*listenerEntry{}
	ports := map[uint32]string{}
	for _, l := range ls {
		prev := old[l.GetName()]
		var compiled *listener
		var err error
		if prev != nil && proto.Equal(prev.latest.src, l) {
			compiled = prev.latest
		} else {
			compiled, err = e.compileListener(l)
		}
		if err == nil {
			if other, dup := ports[compiled.port]; dup {
				err = fmt.Errorf("port %d is already listener %q's", compiled.port, other)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("listener %q: %v", l.GetName(), err))
			if prev != nil {
				next.listeners[l.GetName()] = prev
				ports[prev.latest.port] = l.GetName()
			}
			continue
		}
		ports[compiled.port] = l.GetName()
		entry := &listenerEntry{latest: compiled}
		if prev != nil {
			entry.active = prev.active
		}
		next.listeners[l.GetName()] = entry
	}
	return errs
}
