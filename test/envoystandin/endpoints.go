package envoystandin

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
)

// endpoints is a compiled ClusterLoadAssignment: every locality's endpoints, pooled (without
// locality-weighted balancing Envoy balances across all hosts of priority 0, the only priority
// the allowlist admits).
type endpoints struct {
	list []endpoint
}

type endpoint struct {
	address string
	port    uint32
	healthy bool
}

// compileEndpoints checks a ClusterLoadAssignment. Outside a STRICT_DNS cluster every address
// must be an IP address (Envoy: "malformed IP address").
func compileEndpoints(cla *endpointv3.ClusterLoadAssignment, kind string) (*endpoints, error) {
	if err := validated(cla, "ClusterLoadAssignment"); err != nil {
		return nil, err
	}
	out := &endpoints{}
	for i, le := range cla.GetEndpoints() {
		for j, lb := range le.GetLbEndpoints() {
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			if sa == nil {
				return nil, fmt.Errorf("endpoints[%d].lb_endpoints[%d]: a socket address is required", i, j)
			}
			if _, err := netip.ParseAddr(sa.GetAddress()); err != nil && kind != "STRICT_DNS" {
				return nil, fmt.Errorf("endpoints[%d].lb_endpoints[%d]: malformed IP address %q", i, j, sa.GetAddress())
			}
			// Unhealthy, draining and timed-out hosts take no traffic; DEGRADED would be a
			// second-choice tier, which is not implemented.
			hs := lb.GetHealthStatus()
			switch hs {
			case corev3.HealthStatus_UNKNOWN, corev3.HealthStatus_HEALTHY, corev3.HealthStatus_UNHEALTHY,
				corev3.HealthStatus_DRAINING, corev3.HealthStatus_TIMEOUT:
			default:
				return nil, fmt.Errorf("endpoints[%d].lb_endpoints[%d]: health_status %v is not implemented", i, j, hs)
			}
			out.list = append(out.list, endpoint{address: sa.GetAddress(), port: sa.GetPortValue(),
				healthy: hs == corev3.HealthStatus_UNKNOWN || hs == corev3.HealthStatus_HEALTHY})
		}
	}
	return out, nil
}

func (e *endpoints) hosts() []host {
	if e == nil {
		return nil
	}
	var out []host
	for _, ep := range e.list {
		if ep.healthy {
			out = append(out, host{addr: net.JoinHostPort(ep.address, strconv.Itoa(int(ep.port)))})
		}
	}
	return out
}

func (e *endpoints) addrs() []string {
	out := []string{}
	for _, ep := range e.list {
		out = append(out, net.JoinHostPort(ep.address, strconv.Itoa(int(ep.port))))
	}
	slices.Sort(out)
	return out
}
