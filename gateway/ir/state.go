package ir

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kfgate/kfgate/gateway/mapping"
)

// State resolves incrementally. Documents come and go per source (one annotation or one file
// document); a change marks only the canary groups it touches, and only those are resolved again.
// Changes to what every route depends on (the Module, the AuthService, the set of namespaces) resolve
// everything. Resolve is a State used once.
type State struct {
	opts         Options
	services     map[string]*Service
	secrets      map[string]*Secret
	authDeclared bool
	tls          tlsResult // the HTTPS listener and SDS secrets
	tlsDirty     bool      // TLSContexts or a Secret they name changed

	sources map[string][]*mapping.Document
	names   map[string]*nameSlot
	groups  map[string]*group
	order   []*group // groups with routes, in route order

	r           *resolver
	singles     []*mapping.Document // name winners of kind Module and AuthService
	module      *mapping.Document
	auth        *mapping.Document
	singleDiags []mapping.Diagnostic
	globalDirty bool
	dirty       map[*group]struct{}
	bulk        bool // resolveMany: groups are out of the order while resolved

	nsCount    map[string]int // namespace → known Services in it
	dupSlots   map[*nameSlot]struct{}
	diagGroups map[*group]struct{}
	refs       map[string]int      // cluster name → routes and filters using it
	hosts      map[string]int      // host → routes bound to it
	cors       int                 // routes with CORS
	byService  map[string][]*group // Service key → groups routing to it (few per Service)
	vhosts     []*VirtualHost      // assembled; nil when the order changed
	clusters   []*Cluster          // assembled; nil when the cluster set changed
	replaced   map[string]bool     // clusters rebuilt under a listed name, to patch into clusters
	// unused: clusters no route used any more at some point of this resolution; those still unused
	// at its end are forgotten (a Mapping edit moves a cluster between groups: detached, then reused)
	unused map[string]bool
}

type nameSlot struct {
	docs []*mapping.Document // age order; the first wins
}

type group struct {
	key      string
	members  []*mapping.Document // name winners with this group key, age order
	entries  []entry
	diags    []mapping.Diagnostic
	clusters []string
	services []string
}

// NewState returns an empty State.
func NewState(opts Options) *State {
	if opts.ClusterDomain == "" {
		opts.ClusterDomain = "cluster.local"
	}
	if opts.ListenerPort == 0 {
		opts.ListenerPort = 8080
	}
	if opts.HTTPSPort == 0 {
		opts.HTTPSPort = 8443
	}
	return &State{opts: opts, services: map[string]*Service{}, secrets: map[string]*Secret{}, sources: map[string][]*mapping.Document{},
		names: map[string]*nameSlot{}, groups: map[string]*group{}, dirty: map[*group]struct{}{},
		refs: map[string]int{}, hosts: map[string]int{}, byService: map[string][]*group{},
		nsCount: map[string]int{}, dupSlots: map[*nameSlot]struct{}{}, diagGroups: map[*group]struct{}{}, unused: map[string]bool{},
		globalDirty: true}
}

// Resolve turns valid documents into a route table. Problems that only appear when documents meet
// (duplicates, collisions, weights over 100, unknown Service ports) are returned as diagnostics on
// the document that loses; everything else keeps working.
func Resolve(in Input) (*Config, []mapping.Diagnostic) {
	s := NewState(in.Options)
	s.SetServices(in.Services)
	s.SetAuthDeclared(in.AuthDeclared)
	s.Replace("", in.Documents)
	return s.Config()
}

// Dirty reports whether something changed since the last Config: a Config call would resolve again.
// A Service or EndpointSlice that no Mapping routes to (nor the AuthService) leaves the State clean.
func (s *State) Dirty() bool { return s.globalDirty || s.tlsDirty || len(s.dirty) > 0 }

// SetSecret adds or replaces a Secret. Only a Secret a TLSContext names makes the State dirty, and
// then only the TLS part is resolved again: the routes and clusters do not depend on its content.
func (s *State) SetSecret(sec *Secret) {
	key := Key(sec.Namespace, sec.Name)
	if old, ok := s.secrets[key]; ok && reflect.DeepEqual(old, sec) {
		return
	}
	s.secrets[key] = sec
	if s.tls.refs[key] {
		s.tlsDirty = true
	}
}

// DeleteSecret forgets a Secret.
func (s *State) DeleteSecret(namespace, name string) {
	key := Key(namespace, name)
	if _, ok := s.secrets[key]; !ok {
		return
	}
	delete(s.secrets, key)
	if s.tls.refs[key] {
		s.tlsDirty = true
	}
}

// Secrets returns every known Secret, by namespace/name.
func (s *State) Secrets() map[string]*Secret { return maps.Clone(s.secrets) }

// Inherit carries over what old remembers beyond its inputs: the last valid certificate of each
// served Secret, which keeps serving while a renewal is broken. With the same inputs, s then resolves
// exactly as old would (build.Engine.Fresh).
func (s *State) Inherit(old *State) {
	s.tls.good = maps.Clone(old.tls.good)
	s.tlsDirty = true
}

// SetSecrets replaces every known Secret.
func (s *State) SetSecrets(secrets map[string]*Secret) {
	for key, old := range s.secrets {
		if _, ok := secrets[key]; !ok {
			s.DeleteSecret(old.Namespace, old.Name)
		}
	}
	for _, sec := range secrets {
		s.SetSecret(sec)
	}
}

// SetAuthDeclared says whether an AuthService was written, valid or not (see Input.AuthDeclared).
func (s *State) SetAuthDeclared(v bool) {
	if v != s.authDeclared {
		s.authDeclared, s.globalDirty = v, true
	}
}

// SetServices replaces every known Service.
func (s *State) SetServices(svcs map[string]*Service) {
	for key := range s.services {
		if _, ok := svcs[key]; !ok {
			s.DeleteService(key)
		}
	}
	for _, svc := range svcs {
		s.SetService(svc)
	}
}

// SetService adds or replaces a Service: the groups routing to it are resolved again, unless it is
// the same as before (a change of something routing does not read, such as a label).
func (s *State) SetService(svc *Service) {
	key := Key(svc.Namespace, svc.Name)
	old, ok := s.services[key]
	if ok && (old == svc || reflect.DeepEqual(old, svc)) {
		return
	}
	if !ok {
		if s.nsCount[svc.Namespace]++; s.nsCount[svc.Namespace] == 1 {
			s.globalDirty = true // a new namespace: one-dot service names may now be in-cluster
		}
	}
	s.serviceChanged(key)
	s.services[key] = svc
}

// DeleteService forgets a Service.
func (s *State) DeleteService(key string) {
	svc, ok := s.services[key]
	if !ok {
		return
	}
	if s.nsCount[svc.Namespace]--; s.nsCount[svc.Namespace] == 0 {
		delete(s.nsCount, svc.Namespace)
		s.globalDirty = true
	}
	s.serviceChanged(key)
	delete(s.services, key)
}

// serviceChanged resolves again the groups that route to a Service, with fresh clusters.
func (s *State) serviceChanged(key string) {
	if s.touchesAuth(key) {
		s.globalDirty = true
	}
	for _, g := range s.byService[key] {
		s.dirty[g] = struct{}{}
		for _, name := range g.clusters {
			if c := s.r.clusters[name]; c != nil && c.service == key {
				delete(s.r.clusters, name)
				if s.replaced == nil {
					s.replaced = map[string]bool{}
				}
				s.replaced[name] = true // rebuilt when its groups are resolved again
			}
		}
	}
}

// touchesAuth reports whether the AuthService or the RateLimitService routes to the Service key:
// their clusters are made once per resolveAll.
func (s *State) touchesAuth(key string) bool {
	var refs []mapping.ServiceRef
	if s.auth != nil {
		refs = append(refs, s.auth.AuthService.Service)
	}
	if s.r != nil && s.r.rlsDoc != nil {
		refs = append(refs, s.r.rlsDoc.RateLimitService.Service)
	}
	for _, ref := range refs {
		if ref.Name != "" && Key(ref.Namespace, ref.Name) == key {
			return true
		}
	}
	return false
}

// Replace sets the documents of one source, replacing what it held before.
func (s *State) Replace(source string, docs []mapping.Document) {
	for _, d := range s.sources[source] {
		s.removeDoc(d)
	}
	if len(docs) == 0 {
		delete(s.sources, source)
		return
	}
	owned := make([]*mapping.Document, len(docs))
	for i := range docs {
		d := docs[i]
		owned[i] = &d
		s.addDoc(owned[i])
	}
	s.sources[source] = owned
}

func nameKey(d *mapping.Document) string { return d.Kind + "/" + d.Namespace + "/" + d.Name }

func (s *State) addDoc(d *mapping.Document) {
	slot := s.names[nameKey(d)]
	if slot == nil {
		slot = &nameSlot{}
		s.names[nameKey(d)] = slot
	}
	i := sort.Search(len(slot.docs), func(i int) bool { return compareAge(slot.docs[i], d) > 0 })
	slot.docs = slices.Insert(slot.docs, i, d)
	if len(slot.docs) > 1 {
		s.dupSlots[slot] = struct{}{}
	}
	if i == 0 {
		if len(slot.docs) > 1 {
			s.deactivate(slot.docs[1])
		}
		s.activate(d)
	}
}

func (s *State) removeDoc(d *mapping.Document) {
	key := nameKey(d)
	slot := s.names[key]
	i := slices.Index(slot.docs, d)
	slot.docs = slices.Delete(slot.docs, i, i+1)
	if i == 0 {
		s.deactivate(d)
		if len(slot.docs) > 0 {
			s.activate(slot.docs[0])
		}
	}
	if len(slot.docs) < 2 {
		delete(s.dupSlots, slot)
	}
	if len(slot.docs) == 0 {
		delete(s.names, key)
	}
}

// activate makes a name winner take part: Mappings in their group, the rest as singletons.
func (s *State) activate(d *mapping.Document) {
	if d.Kind != mapping.KindMapping {
		s.singles = append(s.singles, d)
		s.globalDirty = true
		return
	}
	key := groupKey(d.Mapping)
	g := s.groups[key]
	if g == nil {
		g = &group{key: key}
		s.groups[key] = g
	}
	i := sort.Search(len(g.members), func(i int) bool { return compareAge(g.members[i], d) > 0 })
	g.members = slices.Insert(g.members, i, d)
	s.dirty[g] = struct{}{}
}

func (s *State) deactivate(d *mapping.Document) {
	if d.Kind != mapping.KindMapping {
		s.singles = slices.DeleteFunc(s.singles, func(x *mapping.Document) bool { return x == d })
		s.globalDirty = true
		return
	}
	g := s.groups[groupKey(d.Mapping)]
	g.members = slices.DeleteFunc(g.members, func(x *mapping.Document) bool { return x == d })
	s.dirty[g] = struct{}{}
}

// Config resolves what changed and returns the configuration with every diagnostic of resolution.
func (s *State) Config() (*Config, []mapping.Diagnostic) {
	if s.globalDirty {
		s.resolveAll()
	}
	if len(s.dirty) > bulkThreshold && len(s.dirty) > len(s.order)/4 {
		s.resolveMany()
	} else {
		for g := range s.dirty {
			s.resolveGroup(g)
		}
	}
	clear(s.dirty)
	if s.tlsDirty {
		s.tlsDirty = false
		now := time.Now
		if s.opts.Now != nil {
			now = s.opts.Now
		}
		s.tls = resolveTLS(s.r.contexts, s.secrets, s.tls.good, s.opts, s.r.module, now())
	}
	cfg := &Config{Listener: s.r.listener(), HTTPS: s.tls.https, Secrets: s.tls.secrets}
	cfg.Listener.RedirectHosts = s.tls.redirect
	cfg.Listener.CORS = s.cors > 0
	cfg.VirtualHosts = s.virtualHosts()
	cfg.Clusters = s.clusterList()
	return cfg, s.diagnostics()
}

// resolveAll starts over from the singletons: every group is resolved again.
func (s *State) resolveAll() {
	s.globalDirty = false
	namespaces := map[string]bool{}
	for _, svc := range s.services {
		namespaces[svc.Namespace] = true
	}
	s.r = &resolver{in: Input{Services: s.services, Options: s.opts, AuthDeclared: s.authDeclared},
		clusters: map[string]*Cluster{}, namespaces: namespaces}
	slices.SortFunc(s.singles, compareAge)
	s.module, s.auth = s.r.singletons(s.singles)
	s.singleDiags = s.r.diags
	s.order, s.vhosts, s.clusters = nil, nil, nil
	clear(s.refs)
	clear(s.unused)
	clear(s.hosts)
	clear(s.byService)
	clear(s.diagGroups)
	s.cors = 0
	if a := s.r.auth; a != nil {
		s.refs[a.Cluster]++
	}
	if rl := s.r.rateLimit; rl != nil {
		s.refs[rl.Cluster]++
	}
	s.tlsDirty = true
	for _, g := range s.groups {
		g.entries, g.clusters, g.services = nil, nil, nil
		s.dirty[g] = struct{}{}
	}
}

// bulkThreshold is how many dirty groups make resolveMany worth it (a variable for the tests).
var bulkThreshold = 64

// resolveMany resolves many groups at once (a cold start, a Module change): rather than moving each
// in the route order, it takes them all out, resolves them, and sorts the order once.
func (s *State) resolveMany() {
	s.order = slices.DeleteFunc(s.order, func(g *group) bool { _, d := s.dirty[g]; return d })
	s.bulk = true
	for g := range s.dirty {
		s.resolveGroup(g)
	}
	s.bulk = false
	for g := range s.dirty {
		if len(g.entries) > 0 {
			s.order = append(s.order, g)
		}
	}
	slices.SortFunc(s.order, func(a, b *group) int {
		if entryLess(a.entries[0], b.entries[0]) {
			return -1
		}
		return 1
	})
	s.vhosts = nil
}

// resolveGroup resolves one canary group again and puts its routes back in order.
func (s *State) resolveGroup(g *group) {
	old := g.entries
	s.detach(g)
	s.r.diags, s.r.created = nil, nil
	var cands []*candidate
	for _, d := range g.members {
		if !s.r.checkRegexSizes(*d) {
			continue
		}
		if rt := s.r.buildRoute(*d); rt != nil {
			cands = append(cands, &candidate{doc: *d, first: d, m: d.Mapping, route: rt})
		}
	}
	if len(cands) > 0 {
		for sub, rt := range s.r.resolveGroup(cands) {
			g.entries = append(g.entries, newEntry(cands[0], rt, sub))
		}
	}
	g.diags = s.r.diags
	s.placeRoutes(old, g.entries)
	if len(g.diags) > 0 {
		s.diagGroups[g] = struct{}{}
	} else {
		delete(s.diagGroups, g)
	}
	s.attach(g)
	for _, name := range s.r.created {
		if s.refs[name] == 0 {
			delete(s.r.clusters, name) // made for a Mapping that lost: not served, not kept
		}
	}
	if len(g.members) == 0 {
		delete(s.groups, g.key)
		delete(s.diagGroups, g)
	}
}

func (s *State) attach(g *group) {
	for _, e := range g.entries {
		for _, c := range e.route.Clusters {
			g.clusters = append(g.clusters, c.Cluster)
		}
		if e.route.Mirror != nil {
			g.clusters = append(g.clusters, e.route.Mirror.Cluster)
		}
		if e.host != "" {
			s.hosts[e.host]++
		}
		if e.route.CORS != nil {
			s.cors++
		}
	}
	for _, c := range g.clusters {
		if s.refs[c]++; s.refs[c] == 1 {
			if s.unused[c] {
				delete(s.unused, c) // the same cluster, moved from one group to another: the list stands
			} else {
				s.clusters = nil
			}
		}
	}
	for _, d := range g.members {
		if ref := d.Mapping.Service; ref.Name != "" {
			key := Key(ref.Namespace, ref.Name)
			g.services = append(g.services, key)
			if !slices.Contains(s.byService[key], g) {
				s.byService[key] = append(s.byService[key], g)
			}
		}
	}
	if len(g.entries) > 0 && !s.bulk {
		i := sort.Search(len(s.order), func(i int) bool { return entryLess(g.entries[0], s.order[i].entries[0]) })
		s.order = slices.Insert(s.order, i, g)
	}
}

func (s *State) detach(g *group) {
	if len(g.entries) > 0 && !s.bulk {
		i := sort.Search(len(s.order), func(i int) bool { return !entryLess(s.order[i].entries[0], g.entries[0]) })
		if i < len(s.order) && s.order[i] == g {
			s.order = slices.Delete(s.order, i, i+1)
		}
	}
	for _, e := range g.entries {
		if e.host != "" {
			if s.hosts[e.host]--; s.hosts[e.host] == 0 {
				delete(s.hosts, e.host)
			}
		}
		if e.route.CORS != nil {
			s.cors--
		}
	}
	for _, c := range g.clusters {
		if s.refs[c]--; s.refs[c] == 0 {
			delete(s.refs, c)
			s.unused[c] = true // forgotten in clusterList, unless a group resolved after this one uses it again
		}
	}
	for _, key := range g.services {
		s.byService[key] = slices.DeleteFunc(s.byService[key], func(x *group) bool { return x == g })
		if len(s.byService[key]) == 0 {
			delete(s.byService, key)
		}
	}
	g.entries, g.clusters, g.services, g.diags = nil, nil, nil, nil
}

// placeRoutes updates the assembled virtual hosts for a group resolved again. When the group keeps
// its place (same number of routes, same sort keys, same hosts) its new routes take the old ones'
// positions in a copy of each virtual host's route list; otherwise the lists are assembled again.
func (s *State) placeRoutes(old, now []entry) {
	if s.vhosts == nil {
		return
	}
	if len(old) == 0 || !samePlaces(old, now) {
		s.vhosts = nil
		return
	}
	next := make([]*VirtualHost, len(s.vhosts))
	for i, vh := range s.vhosts {
		cp := *vh
		cp.Routes = slices.Clone(vh.Routes)
		for j, e := range old {
			if k := slices.Index(cp.Routes, e.route); k >= 0 {
				cp.Routes[k] = now[j].route
			}
		}
		next[i] = &cp
	}
	s.vhosts = next
}

func samePlaces(old, now []entry) bool {
	if len(old) != len(now) {
		return false
	}
	for i := range old {
		a, b := old[i], now[i]
		if compareAge(a.first, b.first) != 0 { // a replaced text brings new documents of the same age
			return false
		}
		a.route, b.route, a.first, b.first = nil, nil, nil, nil
		if a != b {
			return false
		}
	}
	return true
}

func (s *State) clusterList() []*Cluster {
	for name := range s.unused {
		delete(s.r.clusters, name)
		s.clusters = nil
	}
	clear(s.unused)
	if s.clusters != nil && len(s.replaced) > 0 {
		s.clusters = slices.Clone(s.clusters) // the last list was handed out: copy, then patch
		for name := range s.replaced {
			i, found := slices.BinarySearchFunc(s.clusters, name, func(c *Cluster, n string) int { return strings.Compare(c.Name, n) })
			if c := s.r.clusters[name]; found && c != nil {
				s.clusters[i] = c
			} else {
				s.clusters = nil // gone or new: assemble again
				break
			}
		}
	}
	clear(s.replaced)
	if s.clusters != nil {
		return s.clusters
	}
	names := slices.Sorted(maps.Keys(s.refs))
	s.clusters = make([]*Cluster, 0, len(names))
	for _, n := range names {
		s.clusters = append(s.clusters, s.r.clusters[n])
	}
	return s.clusters
}

// diagnostics gathers duplicate names, singleton conflicts and group problems.
func (s *State) diagnostics() []mapping.Diagnostic {
	out := append(append([]mapping.Diagnostic(nil), s.singleDiags...), s.tls.diags...)
	for slot := range s.dupSlots {
		for _, d := range slot.docs[1:] {
			out = append(out, duplicateDiag(*d, slot.docs[0]))
		}
	}
	for g := range s.diagGroups {
		out = append(out, g.diags...)
	}
	return out
}

func duplicateDiag(d mapping.Document, first *mapping.Document) mapping.Diagnostic {
	return mapping.Diagnostic{Source: d.Source, Line: d.Line, DocKind: d.Kind, DocName: d.Name, Field: "name",
		Severity: mapping.SeverityError, Reason: mapping.ReasonDuplicate,
		Message: fmt.Sprintf("another %s named %q in namespace %q already exists in %s (the older one wins); rename this one",
			d.Kind, d.Name, d.Namespace, first.Source.Object())}
}
