package envoystandin

import (
	"maps"
	"slices"
)

// config is one applied configuration. It is never changed once published: every xDS response
// builds a new one (copying the maps, sharing the compiled resources), which the data plane picks up
// per request (routes, clusters, endpoints, secrets) or per connection (listeners).
type config struct {
	clusters  map[string]*cluster
	endpoints map[string]*endpoints // ClusterLoadAssignments, by cluster_name (EDS service name)
	routes    map[string]*routeTable
	secrets   map[string]*secret
	listeners map[string]*listenerEntry
}

// listenerEntry is a Listener as last received (latest) and the version serving (active): an
// update serves only once warm, until then the previous version keeps serving (LDS warming).
type listenerEntry struct {
	latest, active *listener
}

func (c *config) clone() *config {
	out := &config{clusters: maps.Clone(c.clusters), endpoints: maps.Clone(c.endpoints), routes: maps.Clone(c.routes),
		secrets: maps.Clone(c.secrets), listeners: map[string]*listenerEntry{}}
	for k, v := range c.listeners {
		cp := *v
		out.listeners[k] = &cp
	}
	if out.clusters == nil {
		out.clusters = map[string]*cluster{}
	}
	if out.endpoints == nil {
		out.endpoints = map[string]*endpoints{}
	}
	if out.routes == nil {
		out.routes = map[string]*routeTable{}
	}
	if out.secrets == nil {
		out.secrets = map[string]*secret{}
	}
	return out
}

// activate promotes every warm listener: one whose route tables and secrets have all arrived.
func (c *config) activate() {
	for _, l := range c.listeners {
		if l.active != l.latest && c.warm(l.latest) {
			l.active = l.latest
		}
	}
}

func (c *config) warm(l *listener) bool {
	for _, r := range l.rds() {
		if c.routes[r] == nil {
			return false
		}
	}
	for _, s := range l.sds() {
		if c.secrets[s] == nil {
			return false
		}
	}
	return true
}

// activeOn is the listener serving Envoy port p, nil if none.
func (c *config) activeOn(p uint32) *listener {
	for _, l := range c.listeners {
		if l.active != nil && l.active.port == p {
			return l.active
		}
	}
	return nil
}

// Names of what the configuration references, as Envoy subscribes to them.

func (c *config) edsNames() []string {
	var out []string
	for _, cl := range c.clusters {
		if cl.eds != "" {
			out = append(out, cl.eds)
		}
	}
	return sortedUnique(out)
}

func (c *config) rdsNames() []string {
	var out []string
	for _, l := range c.listeners {
		out = append(out, l.latest.rds()...)
		if l.active != nil && l.active != l.latest {
			out = append(out, l.active.rds()...)
		}
	}
	return sortedUnique(out)
}

func (c *config) sdsNames() []string {
	var out []string
	for _, l := range c.listeners {
		out = append(out, l.latest.sds()...)
		if l.active != nil && l.active != l.latest {
			out = append(out, l.active.sds()...)
		}
	}
	for _, cl := range c.clusters {
		out = append(out, cl.sds()...)
	}
	return sortedUnique(out)
}

// retain drops named resources no longer subscribed to (Envoy forgets an unsubscribed resource).
func retain[T any](m map[string]T, names []string) {
	for k := range m {
		if !slices.Contains(names, k) {
			delete(m, k)
		}
	}
}

func sortedUnique(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
