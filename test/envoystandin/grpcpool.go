package envoystandin

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// grpcPool holds one gRPC connection per upstream host, for the filters that call a service
// (ext_authz) through Envoy's own gRPC client (envoy_grpc: a cluster of the config).
type grpcPool struct {
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

func newGRPCPool() *grpcPool { return &grpcPool{conns: map[string]*grpc.ClientConn{}} }

func (p *grpcPool) conn(addr string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.conns[addr]; c != nil {
		return c, nil
	}
	c, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	p.conns[addr] = c
	return c, nil
}

func (p *grpcPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = map[string]*grpc.ClientConn{}
}

var errNoHost = errors.New("no healthy upstream")

// grpcConn picks a host of cluster name for a gRPC call. Envoy's gRPC client speaks HTTP/2 to the
// cluster, so the cluster must be configured for it.
func (s *stream) grpcConn(ctx context.Context, name string) (*grpc.ClientConn, error) {
	c := s.cfg.clusters[name]
	if c == nil {
		return nil, fmt.Errorf("cluster %q is unknown", name)
	}
	if !c.http2 {
		return nil, fmt.Errorf("cluster %q is not configured for HTTP/2, which gRPC needs", name)
	}
	if c.tls != nil {
		s.e.fail("gRPC to the TLS cluster %q is not implemented", name)
		return nil, fmt.Errorf("gRPC over TLS is not implemented")
	}
	hosts, err := c.hosts(ctx, s.cfg)
	if err != nil {
		return nil, err
	}
	if len(hosts) == 0 {
		return nil, errNoHost
	}
	return s.e.grpcs.conn(c.lb.pick(hosts, "", false).addr)
}
