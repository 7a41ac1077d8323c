package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	"github.com/kfgate/kfgate/gateway/xds"
)

// Resources is one complete configuration for every Envoy.
type Resources struct {
	Listeners, Routes, Clusters, Endpoints, Secrets []types.Resource
	// Trusted lists resources, by type URL and name, whose producer already validated them, encoded
	// packed messages deterministically and hashed their content (kfgate's translator does all three,
	// route by route): Publish uses the given version and size instead of copying and encoding them.
	// A trusted resource must not be changed after it is published.
	Trusted map[string]map[string]Digest
	// Adopt makes the server serve these very messages even when their content is what it serves
	// already (no client is sent anything then): a rebuilt producer hands over new messages, and
	// keeping the old ones would keep the old producer's memory alive.
	Adopt bool
}

// Digest is a resource's content version and encoded size, as the translator makes it.
type Digest = xds.Digest

// published describes the snapshot currently in the cache.
type published struct {
	version      string
	typeVersions map[string]string
}

// typeSlot is one resource type of a Resources value.
type typeSlot struct {
	typeURL string
	items   []types.Resource
}

// slots lists the types in type-URL order, which fixes the order they are
// hashed in.
func (r Resources) slots() []typeSlot {
	return []typeSlot{
		{resourcev3.ClusterType, r.Clusters},
		{resourcev3.EndpointType, r.Endpoints},
		{resourcev3.ListenerType, r.Listeners},
		{resourcev3.RouteType, r.Routes},
		{resourcev3.SecretType, r.Secrets},
	}
}

// preparedType is a validated, canonical, hashed resource type.
type preparedType struct {
	typeURL  string
	items    []types.Resource                 // canonical copies, sorted by name
	versions map[string]string                // name → content version, for Delta clients
	digest   string                           // full SHA-256 hex over names and versions
	size     int                              // estimated size of a SotW response carrying all items
	input    []types.Resource                 // what it was prepared from: the same slice again needs no work
	entries  map[types.Resource]preparedEntry // by input message: the same message again needs no work
	fresh    int                              // messages prepared this time (not seen before)
}

// sameInput reports whether a type's resources are the very slice prepared last time.
func sameInput(a, b []types.Resource) bool {
	return len(a) > 0 && len(a) == len(b) && &a[0] == &b[0]
}

// Publish validates r and, if it differs from what is being served, makes it
// the configuration of every connected and future Envoy. The returned version
// is a hash of the content: publishing equal content is a no-op returning the
// current version.
//
// Each resource type carries its own content-hash version, so a change to
// endpoints only pushes EDS and not, say, a 20k-route RouteConfiguration.
//
// On any error nothing changes: connected clients keep the previous snapshot.
// Messages are immutable once published: a message or a type's slice handed over again is taken to
// be unchanged and is not prepared again, so changed configuration must come as new messages in new
// slices.
func (s *Server) Publish(ctx context.Context, r Resources) (string, error) {
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	start := time.Now()

	version, err := s.publish(ctx, r)
	if err != nil {
		s.metrics.publishFailed()
		return "", err
	}
	s.metrics.publishDuration.Observe(time.Since(start).Seconds())
	return version, nil
}

func (s *Server) publish(ctx context.Context, r Resources) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	prepared, err := s.prepare(r)
	if err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	next := describe(prepared)
	if prev := s.current.Load(); prev != nil && prev.version == next.version && !r.Adopt {
		return next.version, nil
	}
	snap, err := s.buildSnapshot(prepared, next, r.Adopt)
	if err != nil {
		return "", fmt.Errorf("publish %s: %w", next.version, err)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("publish %s: %w", next.version, err)
	}
	// Once SetSnapshot starts it must finish notifying every watch, or some
	// streams would be left on the old version; hence no cancellation.
	err = s.cache.SetSnapshot(context.WithoutCancel(ctx), sharedNodeKey, snap)
	// SetSnapshot installs the snapshot before notifying watches, so even on
	// error it is what new requests get; Version must say so.
	prev := s.current.Swap(&next)
	s.lastSnapshot = snap
	for _, t := range prepared {
		s.lastPrepared[t.typeURL] = t
	}
	s.recordPublish(prev, &next, prepared)
	if err != nil {
		return "", fmt.Errorf("publish %s: installed, but notifying clients failed: %w", next.version, err)
	}
	return next.version, nil
}

// prepare validates and canonicalises every type, and checks each fits in
// one gRPC message: SotW sends all resources of a type in one response, and
// one that exceeds the send limit would break every stream it is sent on.
// A type given as the very slice of the last publish is not prepared again.
func (s *Server) prepare(r Resources) ([]preparedType, error) {
	slots := r.slots()
	out := make([]preparedType, 0, len(slots))
	for _, slot := range slots {
		if last, ok := s.lastPrepared[slot.typeURL]; ok && sameInput(last.input, slot.items) {
			out = append(out, last)
			continue
		}
		p, err := prepareType(slot, r.Trusted[slot.typeURL], s.lastPrepared[slot.typeURL].entries)
		if err != nil {
			return nil, err
		}
		if p.size > s.opts.MaxSendMsgSize {
			return nil, fmt.Errorf("%s: %d resources need ~%d bytes in one response, over the %d byte send limit",
				kindOf(p.typeURL), len(p.items), p.size, s.opts.MaxSendMsgSize)
		}
		out = append(out, p)
	}
	return out, nil
}

// prepareType canonicalises one type's resources, rejecting duplicates, and
// hashes them sorted by name so input order never changes the version.
// Resources published before, by the same message, are not prepared again (messages are immutable
// once published).
func prepareType(slot typeSlot, trusted map[string]Digest, before map[types.Resource]preparedEntry) (preparedType, error) {
	type entry struct {
		preparedEntry
		index int // in the input
	}
	entries := make([]entry, 0, len(slot.items))
	known := make(map[types.Resource]preparedEntry, len(slot.items))
	fresh := 0
	for i, res := range slot.items {
		e, ok := before[res]
		if d, isTrusted := trusted[e.name]; ok && isTrusted && d.Version != e.version {
			ok = false // the producer vouches for new content
		}
		var err error
		if !ok {
			e, err = prepareEntry(slot.typeURL, res, trusted)
			fresh++
		}
		name := e.name
		if err != nil {
			return preparedType{}, fmt.Errorf("%s: %w", resourceLabel(slot.typeURL, i, name), err)
		}
		if res != nil {
			known[res] = e
		}
		entries = append(entries, entry{e, i})
	}
	byName := func(a, b entry) int { return strings.Compare(a.name, b.name) }
	if !slices.IsSortedFunc(entries, byName) { // kfgate's translator hands them over sorted
		slices.SortStableFunc(entries, byName)
	}
	for k := 1; k < len(entries); k++ { // sorted: a duplicate is next to its first
		if a, b := entries[k-1], entries[k]; a.name == b.name {
			return preparedType{}, fmt.Errorf("%s: duplicate name (also at index %d)", resourceLabel(slot.typeURL, b.index, b.name), a.index)
		}
	}

	h := newContentHasher()
	p := preparedType{typeURL: slot.typeURL, items: make([]types.Resource, 0, len(entries)), size: responseOverhead,
		versions: make(map[string]string, len(entries)), input: slot.items, entries: known, fresh: fresh}
	for _, e := range entries {
		h.addString(e.name)
		h.addString(e.version)
		p.items = append(p.items, e.res)
		p.versions[e.name] = e.version
		p.size += e.size + len(slot.typeURL) + perResourceOverhead
	}
	p.digest = h.sum()
	return p, nil
}

type preparedEntry struct {
	name    string
	res     types.Resource
	version string
	size    int
}

// prepareEntry prepares one resource, or takes a trusted one as it is.
func prepareEntry(typeURL string, res types.Resource, trusted map[string]Digest) (preparedEntry, error) {
	if res != nil && res.ProtoReflect().IsValid() {
		name := cachev3.GetResourceName(res)
		if d, ok := trusted[name]; ok && d.Version != "" && strings.TrimPrefix(typeURL, resourcev3.APITypePrefix) == string(res.ProtoReflect().Descriptor().FullName()) {
			return preparedEntry{name: name, res: res, version: d.Version, size: d.Size}, nil
		}
	}
	name, clone, b, err := prepareResource(typeURL, res)
	if err != nil {
		return preparedEntry{name: name}, err
	}
	h := newContentHasher()
	h.add(b)
	return preparedEntry{name: name, res: clone, version: h.sum(), size: len(b)}, nil
}

// Framing estimates for a DiscoveryResponse: each resource is wrapped in an
// Any (type URL plus tags and varint lengths), and the response adds version,
// nonce and type URL. Both are deliberately generous.
const (
	perResourceOverhead = 16
	responseOverhead    = 1024
)

// prepareResource checks one resource and returns its name, a canonical deep
// copy owned by the snapshot, and that copy's deterministic encoding.
func prepareResource(typeURL string, res types.Resource) (string, types.Resource, []byte, error) {
	if res == nil || !res.ProtoReflect().IsValid() {
		return "", nil, nil, fmt.Errorf("nil resource")
	}
	want := strings.TrimPrefix(typeURL, resourcev3.APITypePrefix)
	if got := string(res.ProtoReflect().Descriptor().FullName()); got != want {
		return "", nil, nil, fmt.Errorf("is a %s, want %s", got, want)
	}
	name := cachev3.GetResourceName(res)
	if name == "" {
		return "", nil, nil, fmt.Errorf("empty name")
	}
	if v, ok := res.(validator); ok {
		if err := v.ValidateAll(); err != nil {
			return name, nil, nil, err
		}
	}
	clone := proto.Clone(res)
	if err := canonicalize(clone.ProtoReflect()); err != nil {
		return name, nil, nil, err
	}
	b, err := deterministic.Marshal(clone)
	if err != nil {
		return name, nil, nil, fmt.Errorf("marshal: %w", err)
	}
	return name, clone, b, nil
}

// describe derives the versions of a prepared snapshot. The overall version
// hashes the per-type digests in type order.
func describe(prepared []preparedType) published {
	h := newContentHasher()
	p := published{typeVersions: make(map[string]string, len(prepared))}
	for _, t := range prepared {
		h.addString(t.typeURL)
		h.addString(t.digest)
		p.typeVersions[t.typeURL] = shortVersion(t.digest)
	}
	p.version = shortVersion(h.sum())
	return p
}

// buildSnapshot assembles a snapshot with one version per type and checks it
// is self-consistent: every EDS cluster has its ClusterLoadAssignment and
// every RDS name a listener uses exists (and nothing unreferenced). Envoy
// would otherwise wait forever for the missing resource while warming.
func (s *Server) buildSnapshot(prepared []preparedType, versions published, adopt bool) (*cachev3.Snapshot, error) {
	snap := &cachev3.Snapshot{VersionMap: make(map[string]map[string]string, len(prepared))}
	sameRefs := s.lastSnapshot != nil // every changed type kept its names: references still resolve
	for _, t := range prepared {
		i := cachev3.GetResponseType(t.typeURL)
		if last, ok := s.lastPrepared[t.typeURL]; ok && last.digest == t.digest && s.lastSnapshot != nil && !adopt {
			snap.Resources[i] = s.lastSnapshot.Resources[i] // unchanged: no new map of thousands of items
		} else {
			snap.Resources[i] = cachev3.NewResources(versions.typeVersions[t.typeURL], t.items)
			sameRefs = sameRefs && keepsReferences(last, t)
		}
		// Delta's per-resource versions come from the content hashes already made: the cache would
		// otherwise encode every resource again (ConstructVersionMap).
		snap.VersionMap[t.typeURL] = t.versions
	}
	// Consistency is about names: when changed types kept their names (and listeners their route
	// names), it still holds.
	if !sameRefs {
		if err := snap.Consistent(); err != nil {
			return nil, fmt.Errorf("inconsistent snapshot: %w", explainInconsistency(snap, err))
		}
	}
	return snap, nil
}

// keepsReferences reports whether a changed type leaves every cross-reference of the snapshot as it
// was: its names are the same, no cluster changed (a cluster may start or stop needing a load
// assignment) and listeners name the same route tables.
func keepsReferences(last, now preparedType) bool {
	switch {
	case !sameNames(last.versions, now.versions):
		return false
	case now.typeURL == resourcev3.ClusterType:
		return now.fresh == 0
	case now.typeURL == resourcev3.ListenerType:
		return sameListenerRoutes(last.items, now.items)
	}
	return true
}

// sameListenerRoutes reports whether listeners name the same RouteConfigurations as before.
func sameListenerRoutes(a, b []types.Resource) bool {
	routes := func(ls []types.Resource) map[string]bool {
		var all [types.UnknownType]cachev3.Resources
		all[types.Listener] = cachev3.NewResources("", ls)
		return cachev3.GetAllResourceReferences(all)[resourcev3.RouteType]
	}
	return maps.Equal(routes(a), routes(b))
}

func sameNames(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

func (s *Server) recordPublish(prev, next *published, prepared []preparedType) {
	counts := make([]any, 0, 2*len(prepared)+4)
	counts = append(counts, "version", next.version)
	for _, t := range prepared {
		s.metrics.resources.WithLabelValues(typeLabel(t.typeURL)).Set(float64(len(t.items)))
		counts = append(counts, kindOf(t.typeURL), len(t.items))
	}
	prevVersion := ""
	if prev != nil {
		prevVersion = prev.version
	}
	s.metrics.setVersion(prevVersion, next.version)
	s.setHealth(healthpb.HealthCheckResponse_SERVING)
	s.log.Info("published xDS snapshot", append(counts, "previous", prevVersion)...)
}

// resourceLabel names a resource in errors: by name when it has one, else by
// its position in the input.
func resourceLabel(typeURL string, index int, name string) string {
	if name == "" {
		return fmt.Sprintf("%s #%d", kindOf(typeURL), index)
	}
	return fmt.Sprintf("%s %q", kindOf(typeURL), name)
}

// kindOf is the short message name of a type URL, e.g. "Cluster".
func kindOf(typeURL string) string {
	return typeURL[strings.LastIndexByte(typeURL, '.')+1:]
}

// explainInconsistency names the resources behind a failed Consistent(),
// whose own message is terse ("mismatched lengths", "x not listed").
func explainInconsistency(snap *cachev3.Snapshot, err error) error {
	refs := cachev3.GetAllResourceReferences(snap.Resources)
	var problems []string
	for _, typ := range []string{resourcev3.EndpointType, resourcev3.RouteType} {
		have := snap.GetResources(typ)
		for _, name := range slices.Sorted(maps.Keys(refs[typ])) {
			if _, ok := have[name]; !ok {
				problems = append(problems, fmt.Sprintf("%s %q is referenced but missing", kindOf(typ), name))
			}
		}
		for _, name := range slices.Sorted(maps.Keys(have)) {
			if !refs[typ][name] {
				problems = append(problems, fmt.Sprintf("%s %q is not referenced by any %s", kindOf(typ), name, referrer(typ)))
			}
		}
	}
	if len(problems) == 0 {
		return err
	}
	return errors.New(strings.Join(problems, "; "))
}

func referrer(typeURL string) string {
	if typeURL == resourcev3.EndpointType {
		return "EDS cluster"
	}
	return "listener"
}
