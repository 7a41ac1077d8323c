package envoystandin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Options configure a stand-in.
type Options struct {
	// XDSAddress is the xDS server's gRPC address (host:port, cleartext).
	XDSAddress string
	// NodeID and NodeCluster are the node Envoy presents (--service-node, --service-cluster).
	NodeID, NodeCluster string
	// Ports maps each Envoy listener port (a Listener's port_value) to the local address the
	// stand-in listens on instead, such as "127.0.0.1:0". A Listener on any other port is NACKed.
	Ports map[uint32]string
	// TB fails the test (Errorf) on every NACK and on every behaviour a request needs that the
	// stand-in does not implement, and receives the log (Logf).
	TB testing.TB
	// OnReject, when set, receives every NACK instead of TB: for tests that provoke them.
	OnReject func(Rejection)
	// Logf receives the stand-in's log; nil uses TB.Logf, or discards without a TB.
	Logf func(format string, args ...any)
	// AccessLog receives the lines of every configured access logger, stdout and file loggers
	// alike (the stand-in writes no files); nil discards them.
	AccessLog io.Writer
	// Seed makes stream ids (which pick weighted clusters), request ids and other random choices
	// reproducible; 0 draws a random seed.
	Seed uint64
	// NodeAddress is the address Envoy appends to X-Forwarded-For for a loopback peer (its
	// local_info address, CMU). "" is Envoy's choice: the first non-loopback interface address.
	NodeAddress string
	// Resolver resolves STRICT_DNS clusters; nil is net.DefaultResolver.
	Resolver *net.Resolver
	// InitialFetchTimeout bounds the wait for clusters' endpoints before listeners are requested
	// (Envoy's initial_fetch_timeout); 0 is Envoy's default, 15s.
	InitialFetchTimeout time.Duration
}

// Envoy is a running stand-in. Its methods are safe for concurrent use.
type Envoy struct {
	opts   Options
	conn   *grpc.ClientConn
	ports  map[uint32]*port
	cfg    atomic.Pointer[config]
	grpcs  *grpcPool
	rnd    *lockedRand
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
	bgMu   sync.Mutex // orders background work started (bg) against Close
	logMu  sync.Mutex // one access log line at a time

	mu      sync.Mutex
	state   State
	changed chan struct{}
}

// Start binds the listener ports, connects to the xDS server and starts following it. It returns
// at once: use Wait for configuration to arrive. ctx bounds the stand-in's life, like Close.
func Start(ctx context.Context, opts Options) (*Envoy, error) {
	if opts.XDSAddress == "" {
		return nil, errors.New("envoystandin: Options.XDSAddress is required")
	}
	if opts.InitialFetchTimeout == 0 {
		opts.InitialFetchTimeout = 15 * time.Second
	}
	if opts.NodeAddress == "" {
		opts.NodeAddress = localAddress()
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	conn, err := grpc.NewClient(opts.XDSAddress, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30)))
	if err != nil {
		return nil, fmt.Errorf("envoystandin: connecting to %s: %w", opts.XDSAddress, err)
	}
	e := &Envoy{opts: opts, conn: conn, ports: map[uint32]*port{}, grpcs: newGRPCPool(), rnd: newRand(opts.Seed),
		changed: make(chan struct{}), state: newState()}
	e.cfg.Store(&config{})
	e.ctx, e.cancel = context.WithCancel(ctx)
	for p, addr := range opts.Ports {
		pt, err := e.bind(p, addr)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.ports[p] = pt
		e.state.Addrs[p] = pt.lis.Addr().String()
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.follow()
	}()
	return e, nil
}

// Addr returns the address the stand-in really listens on for Envoy listener port p ("" if p is
// not in Options.Ports).
func (e *Envoy) Addr(p uint32) string {
	if pt := e.ports[p]; pt != nil {
		return pt.lis.Addr().String()
	}
	return ""
}

// Close stops following the xDS server and serving, and waits for everything it started.
func (e *Envoy) Close() {
	e.bgMu.Lock() // so that no bg call is between its closed check and its wg.Add
	already := e.closed.Swap(true)
	e.bgMu.Unlock()
	if already {
		return
	}
	e.cancel()
	for _, pt := range e.ports {
		pt.close()
	}
	_ = e.conn.Close()
	e.wg.Wait()
	e.grpcs.close()
	for _, c := range e.cfg.Load().clusters {
		c.closeIdle()
	}
}

// bg runs f in the background unless the stand-in is closing; Close waits for it.
func (e *Envoy) bg(f func()) {
	e.bgMu.Lock()
	defer e.bgMu.Unlock()
	if e.closed.Load() {
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}

// logf logs through Options.Logf or Options.TB.
func (e *Envoy) logf(format string, args ...any) {
	if e.closed.Load() {
		return
	}
	switch {
	case e.opts.Logf != nil:
		e.opts.Logf(format, args...)
	case e.opts.TB != nil:
		e.opts.TB.Logf(format, args...)
	}
}

// fail reports something the configuration or a request needs that the stand-in does not do, or
// does not accept: it fails the test.
func (e *Envoy) fail(format string, args ...any) {
	if e.closed.Load() {
		return
	}
	if e.opts.TB != nil {
		e.opts.TB.Errorf("envoystandin: "+format, args...)
		return
	}
	e.logf("envoystandin: "+format, args...)
}

// lockedRand is the stand-in's one source of randomness.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newRand(seed uint64) *lockedRand {
	if seed == 0 {
		seed = rand.Uint64() //nolint:gosec // G404: a seed for test choices, not a secret
	}
	// A seeded generator on purpose: Options.Seed makes a test's choices reproducible.
	return &lockedRand{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} //nolint:gosec // G404: reproducible, not secret
}

func (l *lockedRand) uint64() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Uint64()
}

// localAddress is Envoy's local_info address: the first non-loopback interface address
// (Network::Utility::getLocalAddress), else loopback.
func localAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}
