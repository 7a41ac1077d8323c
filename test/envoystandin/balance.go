package envoystandin

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// balancer picks a host of a cluster.
type balancer struct {
	policy clusterv3.Cluster_LbPolicy
	rnd    *lockedRand
	mu     sync.Mutex
	next   uint64
	active map[string]int // requests in flight by host address (LEAST_REQUEST)
}

func newBalancer(p clusterv3.Cluster_LbPolicy, rnd *lockedRand) (*balancer, error) {
	switch p {
	case clusterv3.Cluster_ROUND_ROBIN, clusterv3.Cluster_LEAST_REQUEST, clusterv3.Cluster_RANDOM,
		clusterv3.Cluster_RING_HASH, clusterv3.Cluster_MAGLEV:
	default:
		return nil, fmt.Errorf("lb_policy %v is not implemented", p)
	}
	return &balancer{policy: p, rnd: rnd, active: map[string]int{}}, nil
}

// pick chooses among hosts. ROUND_ROBIN rotates; LEAST_REQUEST takes the less loaded of two random
// hosts (Envoy's default choice_count of 2); RANDOM is random; RING_HASH and MAGLEV hash the route's
// hash policy key (hashed is false without one: a random host, as Envoy does), choosing stably for
// a key and host set, though not the host Envoy's ring would choose.
func (b *balancer) pick(hosts []host, key string, hashed bool) host {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := uint64(len(hosts))
	switch b.policy {
	case clusterv3.Cluster_ROUND_ROBIN:
		b.next++
		return hosts[(b.next-1)%n]
	case clusterv3.Cluster_LEAST_REQUEST:
		a, c := hosts[b.rnd.uint64()%n], hosts[b.rnd.uint64()%n]
		if b.active[c.addr] < b.active[a.addr] {
			return c
		}
		return a
	case clusterv3.Cluster_RING_HASH, clusterv3.Cluster_MAGLEV:
		if hashed {
			h := fnv.New64a()
			_, _ = h.Write([]byte(key))
			return hosts[h.Sum64()%n]
		}
	}
	return hosts[b.rnd.uint64()%n]
}

// started and finished count requests in flight per host.
func (b *balancer) started(h host) {
	b.mu.Lock()
	b.active[h.addr]++
	b.mu.Unlock()
}

func (b *balancer) finished(h host) {
	b.mu.Lock()
	if b.active[h.addr]--; b.active[h.addr] <= 0 {
		delete(b.active, h.addr)
	}
	b.mu.Unlock()
}

// breaker is the DEFAULT-priority circuit breaker of a cluster (routes run at DEFAULT priority:
// routeeval refuses RouteAction.priority, so HIGH thresholds never apply). An HTTP/1.1 request
// holds a connection: beyond max_connections requests wait (pending, up to max_pending_requests);
// beyond max_requests, or a full queue, they overflow. An HTTP/2 cluster multiplexes one connection.
type breaker struct {
	maxConn, maxPending, maxReq, maxRetries int
	mu                                      sync.Mutex
	active, pending, retries                int
	freed                                   chan struct{}
}

var errOverflow = errors.New("overflow")

func newBreaker(cb *clusterv3.CircuitBreakers) *breaker {
	b := &breaker{maxConn: 1024, maxPending: 1024, maxReq: 1024, maxRetries: 3, freed: make(chan struct{})}
	for _, t := range cb.GetThresholds() {
		if t.GetPriority() != corev3.RoutingPriority_DEFAULT {
			continue
		}
		set := func(dst *int, v *wrapperspb.UInt32Value) {
			if v != nil {
				*dst = int(v.GetValue())
			}
		}
		set(&b.maxConn, t.GetMaxConnections())
		set(&b.maxPending, t.GetMaxPendingRequests())
		set(&b.maxReq, t.GetMaxRequests())
		set(&b.maxRetries, t.GetMaxRetries())
	}
	return b
}

// acquire admits a request, waiting while it is pending; release must follow a nil error.
func (b *breaker) acquire(ctx context.Context, http2 bool) error {
	b.mu.Lock()
	if b.active >= b.maxReq {
		b.mu.Unlock()
		return errOverflow
	}
	if http2 || b.active < b.maxConn {
		b.active++
		b.mu.Unlock()
		return nil
	}
	if b.pending >= b.maxPending {
		b.mu.Unlock()
		return errOverflow
	}
	b.pending++
	for b.active >= b.maxConn || b.active >= b.maxReq {
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			b.mu.Lock()
			b.pending--
			b.mu.Unlock()
			return ctx.Err()
		case <-freed:
		}
		b.mu.Lock()
	}
	b.pending--
	b.active++
	b.mu.Unlock()
	return nil
}

func (b *breaker) release() {
	b.mu.Lock()
	b.active--
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// retry admits one retry (max_retries bounds retries in flight).
func (b *breaker) retry() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.retries >= b.maxRetries {
		return false
	}
	b.retries++
	return true
}

func (b *breaker) retryDone() {
	b.mu.Lock()
	b.retries--
	b.mu.Unlock()
}
