// Package xds translates kfgate's IR into Envoy v3 resources: one pure builder per concern (listener,
// routes, clusters, endpoints, filters). Nothing here does I/O.
package xds

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/kfgate/kfgate/gateway/ir"
)

// Resources are the Envoy resources of one configuration, each list sorted by name.
type Resources struct {
	Listeners []*listenerv3.Listener
	Routes    []*routev3.RouteConfiguration
	Clusters  []*clusterv3.Cluster
	Endpoints []*endpointv3.ClusterLoadAssignment
	// Secrets are the SDS secrets (certificates and CA bundles). Render shows only references to
	// them; their content goes nowhere but Envoy.
	Secrets []*tlsv3.Secret
	// Digests gives, by type URL and name, each route table's, cluster's and load assignment's content
	// version and encoded size, made once when it was translated (a route table's from its routes'):
	// the xDS server need not copy, check and encode them again.
	Digests map[string]map[string]Digest
}

// Digest is a resource's content version (a hash of its deterministic encoding) and encoded size.
type Digest struct {
	Version string
	Size    int
}

// RouteConfigName is the name of the RouteConfiguration the HTTP listener fetches over RDS.
func RouteConfigName(port uint32) string { return fmt.Sprintf("http-%d", port) }

// Translator translates configuration after configuration. Routes and clusters are translated once
// per IR object and cached on it (ir.Route.Translated, ir.Cluster.Translated); the Translator also
// keeps its last lists, so that a configuration that differs in a few routes costs a comparison of
// pointers plus the translation of those routes. Not safe for concurrent use.
type Translator struct {
	byName          map[string]clusterResources // last translation of each cluster name
	clusterDigests  map[string]Digest
	endpointDigests map[string]Digest
	clusters        []*ir.Cluster
	clusterRs       []*clusterv3.Cluster
	endpoints       []*endpointv3.ClusterLoadAssignment
	vhosts          map[string]vhostMemo
	tables          map[string]tableMemo // last route table by name
	listeners       listenerMemo
	secrets         secretMemo
}

// listenerMemo is the listeners as last built: the same listener settings, HTTPS listener (IR
// values are never changed in place) and route table names give the same listeners, so a Service
// change does not build them (and their access logs) again.
type listenerMemo struct {
	in       ir.Listener
	https    *ir.HTTPSListener
	rds, tls string
	out      []*listenerv3.Listener
}

// secretMemo is the SDS secrets as last built from the same IR list.
type secretMemo struct {
	in  []*ir.TLSSecret
	out []*tlsv3.Secret
}

// tableMemo is a route table as last built: the same virtual host list (IR lists are never changed
// in place) with the same variant is the same table, so a change elsewhere (a Secret, a cluster)
// costs nothing here.
type tableMemo struct {
	vhosts  []*ir.VirtualHost
	variant string
	rc      *routev3.RouteConfiguration
	digest  Digest
}

type vhostMemo struct {
	in    []*ir.Route
	out   []*routev3.Route
	sum   []byte  // the routes' digests, in order
	sizes []int32 // the routes' encoded sizes, in order
	// digest hashes sum: what a route table's version is made of, so that tables sharing the
	// virtual host (cleartext and HTTPS) do not hash every route digest again.
	digest [digestLen]byte
	size   int
}

// Translate builds every resource for a configuration, each validated (ValidateAll) as it is built.
func (t *Translator) Translate(cfg *ir.Config) (*Resources, error) {
	res := &Resources{Digests: map[string]map[string]Digest{resourcev3.RouteType: {}}}
	clear := RouteConfigName(cfg.Listener.Port)
	var plain rcVariant
	if len(cfg.Listener.RedirectHosts) > 0 {
		first, err := httpsRedirectRoutes(cfg.Listener.RedirectHosts, cfg.Listener.Auth != nil)
		if err != nil {
			return nil, err
		}
		plain.first = first
	}
	if err := t.addRoutes(res, clear, cfg.VirtualHosts, plain); err != nil {
		return nil, err
	}
	rds := "" // the HTTPS listener's route table: the cleartext one, unless they differ
	if h := cfg.HTTPS; h != nil {
		rds = clear
		if len(plain.first) > 0 || h.StrictTransportSecurity != "" {
			rds = HTTPSRouteConfigName(h.Port)
			v := rcVariant{}
			if h.StrictTransportSecurity != "" {
				v.responseHeaders = hstsHeader(h.StrictTransportSecurity)
			}
			if err := t.addRoutes(res, rds, cfg.VirtualHosts, v); err != nil {
				return nil, err
			}
		}
	}
	if err := t.addListeners(res, cfg, clear, rds); err != nil {
		return nil, err
	}
	if err := t.translateClusters(cfg.Clusters); err != nil {
		return nil, err
	}
	if len(cfg.Secrets) != len(t.secrets.in) || len(cfg.Secrets) > 0 && &cfg.Secrets[0] != &t.secrets.in[0] {
		secrets, err := Secrets(cfg.Secrets)
		if err != nil {
			return nil, err
		}
		t.secrets = secretMemo{in: cfg.Secrets, out: secrets}
	}
	res.Clusters, res.Endpoints, res.Secrets = t.clusterRs, t.endpoints, t.secrets.out
	res.Digests[resourcev3.ClusterType], res.Digests[resourcev3.EndpointType] = t.clusterDigests, t.endpointDigests
	return res, nil
}

func (t *Translator) addRoutes(res *Resources, name string, vhosts []*ir.VirtualHost, v rcVariant) error {
	key := v.key()
	m, ok := t.tables[name]
	if !ok || len(m.vhosts) != len(vhosts) || len(vhosts) == 0 || &m.vhosts[0] != &vhosts[0] || m.variant != key {
		rc, digest, err := t.routeConfiguration(name, vhosts, v)
		if err != nil {
			return err
		}
		m = tableMemo{vhosts: vhosts, variant: key, rc: rc, digest: digest}
		if t.tables == nil {
			t.tables = map[string]tableMemo{}
		}
		t.tables[name] = m
	}
	rc, digest := m.rc, m.digest
	res.Routes = append(res.Routes, rc)
	res.Digests[resourcev3.RouteType][name] = digest
	return nil
}

// addListeners builds the cleartext listener and, with cfg.HTTPS, the HTTPS one (on route table rds),
// or reuses them as last built.
func (t *Translator) addListeners(res *Resources, cfg *ir.Config, clear, rds string) error {
	m := t.listeners
	if m.out != nil && m.https == cfg.HTTPS && m.rds == clear && m.tls == rds && reflect.DeepEqual(m.in, cfg.Listener) {
		res.Listeners = m.out
		return nil
	}
	builds := []func() (*listenerv3.Listener, error){func() (*listenerv3.Listener, error) { return Listener(cfg.Listener, clear) }}
	if h := cfg.HTTPS; h != nil {
		builds = append(builds, func() (*listenerv3.Listener, error) { return HTTPSListener(h, cfg.Listener, rds) })
	}
	var out []*listenerv3.Listener
	for _, build := range builds {
		l, err := build()
		if err == nil {
			err = l.ValidateAll()
		}
		if err != nil {
			return fmt.Errorf("listener: %w", err)
		}
		out = append(out, l)
	}
	t.listeners = listenerMemo{in: cfg.Listener, https: cfg.HTTPS, rds: clear, tls: rds, out: out}
	res.Listeners = out
	return nil
}

func (t *Translator) translateClusters(cs []*ir.Cluster) error {
	if len(cs) > 0 && len(cs) == len(t.clusters) && &cs[0] == &t.clusters[0] {
		return nil // the same list as last time: IR lists are never changed in place
	}
	if err := parallel(len(cs), func(i int) error { _, err := translatedCluster(cs[i]); return err }); err != nil {
		return err
	}
	clusters := make([]*clusterv3.Cluster, len(cs))
	endpoints := make([]*endpointv3.ClusterLoadAssignment, 0, len(t.endpoints))
	byName := make(map[string]clusterResources, len(cs))
	clusterDigests, endpointDigests := make(map[string]Digest, len(cs)), make(map[string]Digest, len(t.endpoints))
	for i, c := range cs {
		tr := c.Translated.(clusterResources)
		if prev, ok := t.byName[c.Name]; ok && prev.cluster != tr.cluster && prev.digest == tr.digest {
			// Rebuilt (say, for new endpoints) but the cluster itself is unchanged: keep the message
			// already published, so the server need not prepare it nor check references again.
			tr.cluster = prev.cluster
			c.Translated = tr
		}
		byName[c.Name] = tr
		clusters[i] = tr.cluster
		clusterDigests[c.Name] = tr.clusterDigest()
		if tr.endpoints != nil {
			endpoints = append(endpoints, tr.endpoints)
			endpointDigests[c.Name] = tr.endpointDigest
		}
	}
	t.clusters, t.clusterRs, t.endpoints, t.byName = cs, clusters, endpoints, byName
	t.clusterDigests, t.endpointDigests = clusterDigests, endpointDigests
	return nil
}

// routesOf translates a virtual host's routes, reusing the last translation of that virtual host
// where the IR route is the same object.
// It also returns the concatenated route digests and the routes' encoded size.
func (t *Translator) routesOf(name string, in []*ir.Route) ([]*routev3.Route, [digestLen]byte, int, error) {
	memo, ok := t.vhosts[name]
	if ok && len(memo.in) == len(in) && len(in) > 0 && &memo.in[0] == &in[0] {
		return memo.out, memo.digest, memo.size, nil // the very same list: IR lists are never changed in place
	}
	out := make([]*routev3.Route, len(in))
	sum := make([]byte, len(in)*digestLen)
	sizes := make([]int32, len(in))
	if ok && len(memo.in) == len(in) {
		copy(out, memo.out)
		copy(sum, memo.sum)
		copy(sizes, memo.sizes)
	} else {
		memo.in = nil
	}
	var todo []int
	for i, rt := range in {
		if memo.in == nil || memo.in[i] != rt {
			todo = append(todo, i) // a new IR route: translate it
		}
	}
	if err := translateRoutes(in, todo); err != nil {
		return nil, [digestLen]byte{}, 0, err
	}
	for _, i := range todo {
		tr := in[i].Translated.(translated)
		out[i], sizes[i] = tr.route, int32(tr.size)
		copy(sum[i*digestLen:], tr.digest[:])
	}
	size := 0
	for _, n := range sizes {
		size += int(n)
	}
	if t.vhosts == nil {
		t.vhosts = map[string]vhostMemo{}
	}
	digest := sha256.Sum256(sum)
	t.vhosts[name] = vhostMemo{in: in, out: out, sum: sum, sizes: sizes, digest: digest, size: size}
	return out, digest, size, nil
}

// translateRoutes translates the routes at the given positions: each route is translated,
// validated, encoded and hashed on its own.
func translateRoutes(in []*ir.Route, todo []int) error {
	return parallel(len(todo), func(j int) error { _, err := translatedRoute(in[todo[j]]); return err })
}

// parallel runs work(0..n-1) on every core when n is large (a cold start) and in line otherwise.
// Each call must touch only its own objects.
func parallel(n int, work func(i int) error) error {
	workers := 1
	if n >= 512 {
		workers = runtime.GOMAXPROCS(0)
	}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := work(i); err != nil && errs[w] == nil {
					errs[w] = err
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (t *Translator) forgetVirtualHostsBut(vhosts []*ir.VirtualHost) {
	keep := make(map[string]bool, len(vhosts))
	for _, vh := range vhosts {
		keep[vh.Name] = true
	}
	for name := range t.vhosts {
		if !keep[name] {
			delete(t.vhosts, name)
		}
	}
}

type clusterResources struct {
	cluster        *clusterv3.Cluster
	endpoints      *endpointv3.ClusterLoadAssignment
	digest         [sha256.Size]byte // of the cluster's deterministic encoding
	size           int
	endpointDigest Digest
}

func (c clusterResources) clusterDigest() Digest {
	return Digest{Version: hex.EncodeToString(c.digest[:]), Size: c.size}
}

func translatedCluster(c *ir.Cluster) (clusterResources, error) {
	if t, ok := c.Translated.(clusterResources); ok {
		return t, nil
	}
	cl, err := Cluster(c)
	if err == nil {
		err = cl.ValidateAll()
	}
	if err != nil {
		return clusterResources{}, fmt.Errorf("cluster %q: %w", c.Name, err)
	}
	b, err := deterministic.Marshal(cl)
	if err != nil {
		return clusterResources{}, fmt.Errorf("cluster %q: %w", c.Name, err)
	}
	t := clusterResources{cluster: cl, digest: sha256.Sum256(b), size: len(b)}
	if c.Kind == ir.ClusterEDS {
		t.endpoints = LoadAssignment(c)
		if err := t.endpoints.ValidateAll(); err != nil {
			return clusterResources{}, fmt.Errorf("load assignment %q: %w", c.Name, err)
		}
		if t.endpointDigest, err = digestOf(t.endpoints); err != nil {
			return clusterResources{}, fmt.Errorf("load assignment %q: %w", c.Name, err)
		}
	}
	c.Translated = t
	return t, nil
}

func digestOf(m proto.Message) (Digest, error) {
	b, err := deterministic.Marshal(m)
	if err != nil {
		return Digest{}, err
	}
	sum := sha256.Sum256(b)
	return Digest{Version: hex.EncodeToString(sum[:]), Size: len(b)}, nil
}

// adsSource points Envoy at the ADS stream it already has.
func adsSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
}

// mustAny packs a message known to be valid; packing fails only for nil or unregistered types, which
// would be a programming error caught by the golden tests.
// Packed messages are validated (ValidateAll stops at Any boundaries) and encoded deterministically,
// so that equal configuration always has equal bytes and equal versions.
func toAny(m proto.Message) (*anypb.Any, error) {
	if v, ok := m.(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			return nil, fmt.Errorf("%T: %w", m, err)
		}
	}
	a := &anypb.Any{}
	if err := anypb.MarshalFrom(a, m, deterministic); err != nil {
		return nil, fmt.Errorf("packing %T: %w", m, err)
	}
	return a, nil
}

var deterministic = proto.MarshalOptions{Deterministic: true}
