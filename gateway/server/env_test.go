package server

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kfgate/kfgate/test/xdsclient"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// testEnv is a Server serving on a loopback port with a client connection.
type testEnv struct {
	srv  *Server
	reg  *prometheus.Registry
	logs *logSink
	conn *grpc.ClientConn

	cancel context.CancelFunc
	served chan error
}

func startEnv(t *testing.T, opts Options) *testEnv {
	t.Helper()
	e := &testEnv{reg: prometheus.NewRegistry(), logs: &logSink{}, served: make(chan error, 1)}
	opts.Logger = funcr.New(e.logs.write, funcr.Options{})
	opts.Registry = e.reg
	e.srv = New(opts)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var ctx context.Context
	ctx, e.cancel = context.WithCancel(context.Background())
	go func() { e.served <- e.srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		if err := e.stop(); err != nil {
			t.Errorf("stopping server: %v", err)
		}
	})

	e.conn, err = grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(DefaultMaxSendMsgSize)))
	if err != nil {
		t.Fatalf("dialing server: %v", err)
	}
	t.Cleanup(func() {
		if err := e.conn.Close(); err != nil {
			t.Errorf("closing client connection: %v", err)
		}
	})
	return e
}

// stop cancels Serve and waits (bounded) for it to return.
func (e *testEnv) stop() error {
	e.cancel()
	timer := time.NewTimer(xdsclient.WaitTimeout)
	defer timer.Stop()
	select {
	case err := <-e.served:
		e.served <- err // later callers see the same result
		return err
	case <-timer.C:
		return context.DeadlineExceeded
	}
}

// publish publishes r and fails the test on error.
func (e *testEnv) publish(t *testing.T, r Resources) string {
	t.Helper()
	v, err := e.srv.Publish(context.Background(), r)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	return v
}

// typeVersions is what a client should end up with for the four types.
func (e *testEnv) typeVersions() map[string]string {
	out := map[string]string{}
	for _, typ := range []string{resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.ListenerType, resourcev3.RouteType} {
		out[typ] = e.srv.TypeVersion(typ)
	}
	return out
}

// metric reads one sample, selected by label name/value pairs, from the
// registry; 0 when absent.
func (e *testEnv) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	families, err := e.reg.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m.GetLabel(), labels) {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// hasLabels reports whether got includes the name/value pairs in want.
func hasLabels(got []*dto.LabelPair, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		found := false
		for _, l := range got {
			if l.GetName() == want[i] && l.GetValue() == want[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// eventually polls cond until it holds, failing after xdsclient.WaitTimeout. Used only
// for counters updated on the server side of a stream, which the client
// cannot otherwise observe.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(xdsclient.WaitTimeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// logSink collects log lines for assertions.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) write(prefix, args string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, prefix+args)
}

// all returns a copy of the collected lines.
func (l *logSink) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// find returns the first line containing every part.
func (l *logSink) find(parts ...string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if containsAll(line, parts) {
			return line, true
		}
	}
	return "", false
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
