// Package server is the stateful edge of kfgate: it holds the one xDS
// snapshot that every Envoy receives and serves it over gRPC (ADS in SotW and
// Delta flavours, plus the individual LDS/RDS/CDS/EDS/SDS services).
//
// Everything upstream of this package is a pure translation; this package
// owns the protocol concerns: validating a snapshot before any client can see
// it, content-addressed versions so identical input never causes a push,
// NACK accounting, and the gRPC limits that decide whether a large
// RouteConfiguration fits on the wire.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	listenerservice "github.com/envoyproxy/go-control-plane/envoy/service/listener/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	secretservice "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	sotwv3 "github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
)

// Defaults for Options. The send limit is sized for a RouteConfiguration of
// ~10k Services (~20k routes, a few MiB) with generous headroom, because
// Envoy receives each resource type of a SotW push as a single message.
const (
	DefaultMaxRecvMsgSize   = 16 << 20
	DefaultMaxSendMsgSize   = 64 << 20
	DefaultKeepaliveTime    = 30 * time.Second
	DefaultKeepaliveTimeout = 5 * time.Second
	DefaultShutdownTimeout  = 10 * time.Second

	// minClientPingInterval is how often clients may ping us; Envoy's
	// default connection keepalive is well above this.
	minClientPingInterval = 10 * time.Second
)

// Options configures a Server. Zero values select the defaults above.
type Options struct {
	Logger logr.Logger
	// Registry receives the server's metrics; nil keeps them unexported.
	Registry prometheus.Registerer

	MaxRecvMsgSize, MaxSendMsgSize  int
	KeepaliveTime, KeepaliveTimeout time.Duration
	// ShutdownTimeout bounds GracefulStop when Serve's context ends.
	ShutdownTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Logger.GetSink() == nil {
		o.Logger = logr.Discard()
	}
	if o.MaxRecvMsgSize <= 0 {
		o.MaxRecvMsgSize = DefaultMaxRecvMsgSize
	}
	if o.MaxSendMsgSize <= 0 {
		o.MaxSendMsgSize = DefaultMaxSendMsgSize
	}
	if o.KeepaliveTime <= 0 {
		o.KeepaliveTime = DefaultKeepaliveTime
	}
	if o.KeepaliveTimeout <= 0 {
		o.KeepaliveTimeout = DefaultKeepaliveTimeout
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	return o
}

// Server serves one snapshot to all Envoy nodes. Publish may be called at any
// time, before or while Serve runs.
type Server struct {
	opts      Options
	log       logr.Logger
	cache     cachev3.SnapshotCache
	callbacks *callbacks
	metrics   *metrics
	health    *health.Server

	// publishMu serialises Publish so the "unchanged?" check and SetSnapshot
	// act on the same current snapshot.
	publishMu sync.Mutex
	current   atomic.Pointer[published]
	// lastPrepared and lastSnapshot (guarded by publishMu) let the next Publish skip the types it
	// is given again unchanged.
	lastPrepared map[string]preparedType
	lastSnapshot *cachev3.Snapshot
}

// Stats is a point-in-time summary of the server, mirroring its metrics.
type Stats struct {
	Version          string
	ConnectedStreams int64
	Pushes           uint64 // responses sent, all types
	Acks             uint64
	Nacks            uint64
	Publishes        uint64 // snapshots that replaced the previous one
	PublishFailures  uint64
}

// New builds a Server. It does not listen; see Serve.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	m := newMetrics()
	if err := m.register(opts.Registry); err != nil {
		// Metrics are diagnostics; serving xDS matters more than exporting
		// them, so a registration clash is reported rather than fatal.
		opts.Logger.Error(err, "registering xDS metrics")
	}
	s := &Server{
		opts:      opts,
		log:       opts.Logger,
		cache:     cachev3.NewSnapshotCache(true, sharedNodeHash{}, cacheLogger{opts.Logger}),
		callbacks: newCallbacks(opts.Logger, m),
		metrics:   m,
		health:    health.NewServer(),

		lastPrepared: map[string]preparedType{},
	}
	// Until a snapshot exists an Envoy connecting here would wait forever,
	// so health reports NOT_SERVING and load balancers can steer away.
	s.setHealth(healthpb.HealthCheckResponse_NOT_SERVING)
	return s
}

// Version is the content hash of the snapshot being served, "" before the
// first successful Publish.
func (s *Server) Version() string {
	if p := s.current.Load(); p != nil {
		return p.version
	}
	return ""
}

// TypeVersion is the version Envoy sees for one resource type (the
// version_info of its responses), "" before the first successful Publish.
func (s *Server) TypeVersion(typeURL string) string {
	if p := s.current.Load(); p != nil {
		return p.typeVersions[typeURL]
	}
	return ""
}

// Ready reports whether a snapshot exists to be served.
func (s *Server) Ready() bool { return s.Version() != "" }

// Stats returns current counters.
func (s *Server) Stats() Stats {
	st := s.callbacks.stats()
	st.Version = s.Version()
	st.Publishes = s.metrics.publishCount.Load()
	st.PublishFailures = s.metrics.failureCount.Load()
	return st
}

// Serve runs the gRPC server on lis until ctx ends, then drains it: streams
// are told to finish and GracefulStop gets ShutdownTimeout before a hard
// Stop. It returns nil after a shutdown requested through ctx. Serve is
// meant to run once per Server: stream bookkeeping and the health service
// belong to that one gRPC server.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	// Cancelling the xDS server's context ends its long-lived streams, which
	// is what lets GracefulStop finish instead of waiting on them forever.
	xdsCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	gs := s.newGRPCServer(xdsCtx)

	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(lis) }()
	s.log.Info("serving xDS", "address", lis.Addr().String())

	select {
	case err := <-errc:
		gs.Stop()
		return fmt.Errorf("serving xDS on %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}
	s.health.Shutdown()
	cancel()
	s.stop(gs)
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("serving xDS on %s: %w", lis.Addr(), err)
	}
	s.log.Info("xDS server stopped")
	return nil
}

func (s *Server) newGRPCServer(ctx context.Context) *grpc.Server {
	gs := grpc.NewServer(
		grpc.MaxRecvMsgSize(s.opts.MaxRecvMsgSize),
		grpc.MaxSendMsgSize(s.opts.MaxSendMsgSize),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:    s.opts.KeepaliveTime,
			Timeout: s.opts.KeepaliveTimeout,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             minClientPingInterval,
			PermitWithoutStream: true,
		}),
	)
	// Ordered ADS sends CDS before EDS before LDS before RDS within a push,
	// the order Envoy needs to avoid referencing resources it lacks.
	xds := serverv3.NewServer(ctx, s.cache, s.callbacks,
		sotwv3.WithOrderedADS(), sotwv3.WithLogger(cacheLogger{s.log}))
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, xds)
	listenerservice.RegisterListenerDiscoveryServiceServer(gs, xds)
	routeservice.RegisterRouteDiscoveryServiceServer(gs, xds)
	clusterservice.RegisterClusterDiscoveryServiceServer(gs, xds)
	endpointservice.RegisterEndpointDiscoveryServiceServer(gs, xds)
	secretservice.RegisterSecretDiscoveryServiceServer(gs, xds)
	healthpb.RegisterHealthServer(gs, s.health)
	return gs
}

// stop drains gs, falling back to Stop when a client does not let go (for
// example a stream blocked on a slow reader) within ShutdownTimeout.
func (s *Server) stop(gs *grpc.Server) {
	done := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(done)
	}()
	timer := time.NewTimer(s.opts.ShutdownTimeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		s.log.Info("graceful xDS shutdown timed out, closing connections", "timeout", s.opts.ShutdownTimeout)
		gs.Stop()
		<-done
	}
}

func (s *Server) setHealth(st healthpb.HealthCheckResponse_ServingStatus) {
	s.health.SetServingStatus("", st)
	s.health.SetServingStatus(discoveryv3.AggregatedDiscoveryService_ServiceDesc.ServiceName, st)
}
