package envoystandin

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

const httpProtocolOptions = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// cluster is a compiled Cluster with its runtime state (balancer, circuit breakers, connections).
type cluster struct {
	src            *clusterv3.Cluster
	name           string
	kind           clusterv3.Cluster_DiscoveryType
	eds            string     // the ClusterLoadAssignment an EDS cluster follows
	static         *endpoints // STATIC and STRICT_DNS load_assignment
	family         clusterv3.Cluster_DnsLookupFamily
	resolver       *net.Resolver
	lb             *balancer
	breaker        *breaker
	http2          bool
	connectTimeout time.Duration
	tls            *upstreamTLS
	transport      *http.Transport
}

func (e *Envoy) compileCluster(c *clusterv3.Cluster) (*cluster, error) {
	if err := validated(c, "cluster"); err != nil {
		return nil, err
	}
	out := &cluster{src: c, name: c.GetName(), kind: c.GetType(), family: c.GetDnsLookupFamily(),
		resolver: e.opts.Resolver, connectTimeout: 5 * time.Second, breaker: newBreaker(c.GetCircuitBreakers())}
	if c.GetConnectTimeout() != nil {
		out.connectTimeout = c.GetConnectTimeout().AsDuration()
	}
	var err error
	if out.lb, err = newBalancer(c.GetLbPolicy(), e.rnd); err != nil {
		return nil, err
	}
	switch out.kind {
	case clusterv3.Cluster_EDS:
		if err := checkConfigSource(c.GetEdsClusterConfig().GetEdsConfig(), "eds_cluster_config.eds_config"); err != nil {
			return nil, err
		}
		out.eds = c.GetEdsClusterConfig().GetServiceName()
		if out.eds == "" {
			out.eds = c.GetName()
		}
		if c.GetLoadAssignment() != nil {
			return nil, fmt.Errorf("an EDS cluster's load_assignment is not implemented")
		}
	case clusterv3.Cluster_STATIC, clusterv3.Cluster_STRICT_DNS:
		if c.GetEdsClusterConfig() != nil {
			return nil, fmt.Errorf("eds_cluster_config on a %v cluster", out.kind)
		}
		if out.static, err = compileEndpoints(c.GetLoadAssignment(), out.kind.String()); err != nil {
			return nil, fmt.Errorf("load_assignment: %w", err)
		}
	default:
		return nil, fmt.Errorf("cluster type %v is not implemented", out.kind)
	}
	switch out.family {
	case clusterv3.Cluster_AUTO, clusterv3.Cluster_V4_ONLY, clusterv3.Cluster_V6_ONLY, clusterv3.Cluster_V4_PREFERRED:
	default:
		return nil, fmt.Errorf("dns_lookup_family %v is not implemented", out.family)
	}
	for k, a := range c.GetTypedExtensionProtocolOptions() {
		if k != httpProtocolOptions {
			return nil, fmt.Errorf("typed_extension_protocol_options[%s] is not implemented", k)
		}
		opts, err := unpack(a, &httpv3.HttpProtocolOptions{}, "typed_extension_protocol_options")
		if err != nil {
			return nil, err
		}
		out.http2 = opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil
	}
	if ts := c.GetTransportSocket(); ts != nil {
		u, err := unpack(ts.GetTypedConfig(), &tlsv3.UpstreamTlsContext{}, "transport_socket")
		if err != nil {
			return nil, err
		}
		if out.tls, err = compileUpstreamTLS(u, "transport_socket"); err != nil {
			return nil, err
		}
	}
	out.transport = e.newTransport(out)
	return out, nil
}

func (c *cluster) sds() []string {
	if c.tls == nil {
		return nil
	}
	return c.tls.secrets()
}

// host is one upstream endpoint: its address and, for STRICT_DNS, the name it was resolved from
// (what auto_host_rewrite writes into :authority).
type host struct {
	addr     string
	hostname string
}

// hosts lists the cluster's healthy hosts now: EDS from the latest ClusterLoadAssignment, STATIC as
// configured, STRICT_DNS resolved (every address of every name is a host).
func (c *cluster) hosts(ctx context.Context, cfg *config) ([]host, error) {
	switch c.kind {
	case clusterv3.Cluster_EDS:
		return cfg.endpoints[c.eds].hosts(), nil
	case clusterv3.Cluster_STATIC:
		return c.static.hosts(), nil
	}
	var out []host
	for _, ep := range c.static.list {
		if !ep.healthy {
			continue
		}
		ips, err := c.resolver.LookupIPAddr(ctx, ep.address)
		if err != nil {
			return nil, err
		}
		for _, ip := range pickFamily(ips, c.family) {
			out = append(out, host{addr: net.JoinHostPort(ip.String(), strconv.Itoa(int(ep.port))), hostname: ep.address})
		}
	}
	return out, nil
}

// pickFamily applies dns_lookup_family: V4_PREFERRED uses IPv4 addresses when there are any,
// AUTO IPv6 ones when there are any.
func pickFamily(ips []net.IPAddr, f clusterv3.Cluster_DnsLookupFamily) []net.IP {
	var v4, v6 []net.IP
	for _, a := range ips {
		if a.IP.To4() != nil {
			v4 = append(v4, a.IP)
		} else {
			v6 = append(v6, a.IP)
		}
	}
	switch f {
	case clusterv3.Cluster_V4_ONLY:
		return v4
	case clusterv3.Cluster_V6_ONLY:
		return v6
	case clusterv3.Cluster_V4_PREFERRED:
		if len(v4) > 0 {
			return v4
		}
		return v6
	default:
		if len(v6) > 0 {
			return v6
		}
		return v4
	}
}

func (c *cluster) closeIdle() { c.transport.CloseIdleConnections() }
