package envoystandin

import (
	"context"
	"maps"
	"slices"
)

// State is what the stand-in has applied, for tests to wait on.
type State struct {
	// Versions is the accepted (ACKed) version_info of each type URL.
	Versions map[string]string
	// Rejections lists every NACK sent, oldest first.
	Rejections []Rejection
	// Listeners maps each applied Listener's name to its state.
	Listeners map[string]ListenerState
	// Clusters lists the applied clusters by name, sorted.
	Clusters []string
	// Endpoints maps each ClusterLoadAssignment's name to its endpoints ("address:port", sorted).
	Endpoints map[string][]string
	// Routes lists the applied RouteConfigurations by name, sorted.
	Routes []string
	// Secrets lists the applied SDS Secrets by name, sorted.
	Secrets []string
	// Addrs maps each Envoy listener port to the address the stand-in listens on for it.
	Addrs map[uint32]string
}

// ListenerState is one applied Listener.
type ListenerState struct {
	Port uint32
	// Active: every RouteConfiguration and Secret it needs has arrived (it no longer warms), so it
	// accepts connections. An updated listener keeps serving its previous version until then.
	Active bool
}

// Rejection is one NACK: the response's type, version and nonce, and why each rejected resource was
// rejected. Resources of the same response that were valid were applied (LDS, CDS; RDS, EDS and SDS
// per resource).
type Rejection struct {
	TypeURL, Version, Nonce string
	Errors                  []string
}

func newState() State {
	return State{Versions: map[string]string{}, Listeners: map[string]ListenerState{},
		Endpoints: map[string][]string{}, Addrs: map[uint32]string{}}
}

func (s State) clone() State {
	out := s
	out.Versions = maps.Clone(s.Versions)
	out.Rejections = slices.Clone(s.Rejections)
	out.Listeners = maps.Clone(s.Listeners)
	out.Clusters = slices.Clone(s.Clusters)
	out.Endpoints = maps.Clone(s.Endpoints)
	out.Routes = slices.Clone(s.Routes)
	out.Secrets = slices.Clone(s.Secrets)
	out.Addrs = maps.Clone(s.Addrs)
	return out
}

// State returns what the stand-in holds now.
func (e *Envoy) State() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state.clone()
}

// Wait waits until ok holds for the applied state, or ctx ends (its error is returned with the
// last state), or the stand-in is closed.
func (e *Envoy) Wait(ctx context.Context, ok func(State) bool) (State, error) {
	for {
		e.mu.Lock()
		st, changed := e.state.clone(), e.changed
		e.mu.Unlock()
		if ok(st) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-e.ctx.Done():
			return st, context.Canceled
		case <-changed:
		}
	}
}

// update changes the state and wakes every Wait.
func (e *Envoy) update(f func(*State)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(&e.state)
	close(e.changed)
	e.changed = make(chan struct{})
}

// publish recomputes the State's view of c, installs c for the data plane, and wakes every Wait.
func (e *Envoy) publish(c *config) {
	e.cfg.Store(c)
	e.update(func(s *State) {
		s.Clusters = slices.Sorted(maps.Keys(c.clusters))
		s.Routes = slices.Sorted(maps.Keys(c.routes))
		s.Secrets = slices.Sorted(maps.Keys(c.secrets))
		s.Endpoints = map[string][]string{}
		for name, eps := range c.endpoints {
			s.Endpoints[name] = eps.addrs()
		}
		s.Listeners = map[string]ListenerState{}
		for name, l := range c.listeners {
			s.Listeners[name] = ListenerState{Port: l.latest.port, Active: l.active == l.latest}
		}
	})
}

// HasListeners reports whether every named listener is applied and active.
func (s State) HasListeners(names ...string) bool {
	for _, n := range names {
		if !s.Listeners[n].Active {
			return false
		}
	}
	return true
}
