package xdsclient

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// Mirror drains a SotW client and holds what an Envoy on that stream holds: the latest response of
// each type (all of them ACKed: a Mirror's client NACKs nothing). Tests wait on what it holds.
type Mirror struct {
	mu      sync.Mutex
	view    View
	changed chan struct{} // closed and replaced at every response
	ended   chan struct{}
}

// View is the latest response of each type, by type URL, and when it arrived (just after its ACK was
// sent).
type View struct {
	Responses map[string]*discoveryv3.DiscoveryResponse
	At        map[string]time.Time
}

// Mirror starts draining c: from now on read c only through the Mirror.
func (c *SotW) Mirror() *Mirror {
	m := &Mirror{view: View{Responses: map[string]*discoveryv3.DiscoveryResponse{}, At: map[string]time.Time{}},
		changed: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(m.ended)
		for resp := range c.out {
			m.mu.Lock()
			v := View{Responses: make(map[string]*discoveryv3.DiscoveryResponse, 4), At: make(map[string]time.Time, 4)}
			for k, r := range m.view.Responses {
				v.Responses[k], v.At[k] = r, m.view.At[k]
			}
			v.Responses[resp.GetTypeUrl()], v.At[resp.GetTypeUrl()] = resp, time.Now()
			m.view = v
			close(m.changed)
			m.changed = make(chan struct{})
			m.mu.Unlock()
		}
	}()
	return m
}

// View returns what the client holds now.
func (m *Mirror) View() View {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.view
}

// Until waits until ok holds for what the client holds, or ctx ends, or the stream ends.
func (m *Mirror) Until(ctx context.Context, ok func(View) bool) (View, error) {
	for {
		m.mu.Lock()
		v, changed := m.view, m.changed
		m.mu.Unlock()
		if ok(v) {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-m.ended:
			return m.View(), fmt.Errorf("the ADS stream ended")
		case <-changed:
		}
	}
}

// Wait is Until for tests: it fails the test after WaitTimeout, saying what it waited for.
func (m *Mirror) Wait(t testing.TB, what string, ok func(View) bool) View {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	v, err := m.Until(ctx, ok)
	if err != nil {
		// Secrets by name only: their content is key material.
		t.Fatalf("waiting for %s: %v; the client holds listeners %v, routes %v, endpoints %v and secrets %v", what, err,
			slices.Sorted(maps.Keys(v.Listeners())), v.Routes(), v.Endpoints(), slices.Sorted(maps.Keys(v.Secrets())))
	}
	return v
}

// Version is the version of the latest response of a type.
func (v View) Version(typeURL string) string { return v.Responses[typeURL].GetVersionInfo() }

// Listeners maps each listener's name to it.
func (v View) Listeners() map[string]*listenerv3.Listener {
	out := map[string]*listenerv3.Listener{}
	for _, a := range v.Responses[resourcev3.ListenerType].GetResources() {
		var l listenerv3.Listener
		if a.UnmarshalTo(&l) == nil {
			out[l.GetName()] = &l
		}
	}
	return out
}

// Secrets maps each SDS Secret's name to it: what the client subscribed to (see SDSNames) and
// received. Its version is Version(resourcev3.SecretType).
func (v View) Secrets() map[string]*tlsv3.Secret {
	out := map[string]*tlsv3.Secret{}
	for _, a := range v.Responses[resourcev3.SecretType].GetResources() {
		var s tlsv3.Secret
		if a.UnmarshalTo(&s) == nil {
			out[s.GetName()] = &s
		}
	}
	return out
}

// Routes maps each route, as "domain prefix-or-path", to its target: a cluster, weighted clusters
// "a=60,b=40", or "redirect".
func (v View) Routes() map[string]string {
	out := map[string]string{}
	for _, a := range v.Responses[resourcev3.RouteType].GetResources() {
		var rc routev3.RouteConfiguration
		if a.UnmarshalTo(&rc) != nil {
			continue
		}
		for _, vh := range rc.GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				m := r.GetMatch()
				match := m.GetPrefix() + m.GetPath() + m.GetSafeRegex().GetRegex() + m.GetPathSeparatedPrefix()
				out[vh.GetDomains()[0]+" "+match] = target(r)
			}
		}
	}
	return out
}

func target(r *routev3.Route) string {
	if r.GetRedirect() != nil {
		return "redirect"
	}
	if c := r.GetRoute().GetCluster(); c != "" {
		return c
	}
	var parts []string
	for _, w := range r.GetRoute().GetWeightedClusters().GetClusters() {
		parts = append(parts, w.GetName()+"="+strconv.Itoa(int(w.GetWeight().GetValue())))
	}
	return strings.Join(parts, ",")
}

// Endpoints maps each ClusterLoadAssignment to its endpoints, "address:port", sorted.
func (v View) Endpoints() map[string][]string {
	out := map[string][]string{}
	for _, a := range v.Responses[resourcev3.EndpointType].GetResources() {
		var cla endpointv3.ClusterLoadAssignment
		if a.UnmarshalTo(&cla) != nil {
			continue
		}
		eps := []string{}
		for _, le := range cla.GetEndpoints() {
			for _, lb := range le.GetLbEndpoints() {
				sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
				eps = append(eps, net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue()))))
			}
		}
		slices.Sort(eps)
		out[cla.GetClusterName()] = eps
	}
	return out
}
