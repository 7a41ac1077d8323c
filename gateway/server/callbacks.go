package server

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/go-logr/logr"
)

// maxNACKDetail bounds the client's error text in logs; Envoy can list
// every rejected resource in one message.
const maxNACKDetail = 4096

// callbacks observes xDS streams for metrics and logs, and stops NACK
// storms (see parkNACK).
type callbacks struct {
	log     logr.Logger
	metrics *metrics

	mu      sync.Mutex
	streams map[streamKey]*streamState

	open                atomic.Int64
	pushes, acks, nacks atomic.Uint64
}

var _ serverv3.Callbacks = (*callbacks)(nil)

// streamKey identifies a stream; SotW and Delta number streams separately.
type streamKey struct {
	delta bool
	id    int64
}

type streamState struct {
	node string
	sent map[string]sentResponse // by type URL: the latest response
}

type sentResponse struct {
	nonce, version string
	at             time.Time
}

func newCallbacks(log logr.Logger, m *metrics) *callbacks {
	return &callbacks{log: log, metrics: m, streams: make(map[streamKey]*streamState)}
}

func modeOf(k streamKey) string {
	if k.delta {
		return "delta"
	}
	return "sotw"
}

func (c *callbacks) stats() Stats {
	return Stats{
		ConnectedStreams: c.open.Load(),
		Pushes:           c.pushes.Load(),
		Acks:             c.acks.Load(),
		Nacks:            c.nacks.Load(),
	}
}

func (c *callbacks) opened(k streamKey, typeURL string) {
	c.mu.Lock()
	c.streams[k] = &streamState{sent: make(map[string]sentResponse)}
	c.mu.Unlock()
	c.open.Add(1)
	c.metrics.streams.WithLabelValues(modeOf(k)).Inc()
	c.log.V(1).Info("xDS stream opened", "stream", k.id, "mode", modeOf(k), "type", typeURL)
}

func (c *callbacks) closed(k streamKey, node *corev3.Node) {
	c.mu.Lock()
	delete(c.streams, k)
	c.mu.Unlock()
	c.open.Add(-1)
	c.metrics.streams.WithLabelValues(modeOf(k)).Dec()
	c.log.V(1).Info("xDS stream closed", "stream", k.id, "mode", modeOf(k), "node", node.GetId())
}

// request is a client request reduced to what ACK/NACK handling needs.
type request struct {
	node, typeURL, nonce, version string
	nacked                        bool
	detail                        string
}

// received counts an ACK or NACK and, for a NACK of the latest response on
// the stream, returns that response so the caller can park the watch.
func (c *callbacks) received(k streamKey, r request) (rejected sentResponse, latest bool) {
	c.mu.Lock()
	st := c.streams[k]
	if st != nil {
		if r.node != "" {
			st.node = r.node // only the first request must carry the node
		}
		r.node = st.node
		rejected = st.sent[r.typeURL]
	}
	c.mu.Unlock()
	latest = rejected.nonce != "" && rejected.nonce == r.nonce

	switch {
	case r.nacked:
		c.nacks.Add(1)
		c.metrics.nacks.WithLabelValues(typeLabel(r.typeURL)).Inc()
		c.logNACK(k, r, rejected.version)
	case r.nonce != "":
		c.acks.Add(1)
		c.metrics.acks.WithLabelValues(typeLabel(r.typeURL)).Inc()
		if latest {
			c.metrics.ackLatency.WithLabelValues(typeLabel(r.typeURL)).Observe(time.Since(rejected.at).Seconds())
		}
	}
	return rejected, latest
}

// logNACK reports a rejection at the default level: a NACK means Envoy runs
// stale config, which operators must see without raising verbosity.
func (c *callbacks) logNACK(k streamKey, r request, rejectedVersion string) {
	kv := []any{"node", r.node, "type", r.typeURL, "version", rejectedVersion, "nonce", r.nonce, "mode", modeOf(k)}
	if !k.delta { // Delta requests carry no version_info
		kv = append(kv, "acceptedVersion", r.version)
	}
	c.log.Info("xDS NACK", append(kv, "error", truncate(r.detail, maxNACKDetail))...)
}

func (c *callbacks) sent(k streamKey, typeURL, nonce, version string) {
	c.mu.Lock()
	if st := c.streams[k]; st != nil {
		st.sent[typeURL] = sentResponse{nonce: nonce, version: version, at: time.Now()}
	}
	c.mu.Unlock()
	c.pushes.Add(1)
	c.metrics.pushes.WithLabelValues(typeLabel(typeURL)).Inc()
}

// OnStreamOpen implements serverv3.Callbacks.
func (c *callbacks) OnStreamOpen(_ context.Context, id int64, typeURL string) error {
	c.opened(streamKey{id: id}, typeURL)
	return nil
}

// OnStreamClosed implements serverv3.Callbacks.
func (c *callbacks) OnStreamClosed(id int64, node *corev3.Node) {
	c.closed(streamKey{id: id}, node)
}

// OnStreamRequest implements serverv3.Callbacks.
func (c *callbacks) OnStreamRequest(id int64, req *discoveryv3.DiscoveryRequest) error {
	r := request{
		node: req.GetNode().GetId(), typeURL: req.GetTypeUrl(), nonce: req.GetResponseNonce(),
		version: req.GetVersionInfo(), nacked: req.GetErrorDetail() != nil, detail: req.GetErrorDetail().GetMessage(),
	}
	rejected, latest := c.received(streamKey{id: id}, r)
	if r.nacked && latest {
		parkNACK(req, rejected)
	}
	return nil
}

// parkNACK stops a SotW NACK loop. A NACK carries the last version the
// client accepted, and go-control-plane's cache answers any request whose
// version differs from the snapshot at once, so it would re-send the
// rejected config immediately, be NACKed again, and so on at wire speed.
// Recording the rejected version as the client's makes the cache hold the
// watch until a Publish changes that type. (Delta tracks per-resource
// versions and has no such loop.)
func parkNACK(req *discoveryv3.DiscoveryRequest, rejected sentResponse) {
	req.VersionInfo = rejected.version
}

// OnStreamResponse implements serverv3.Callbacks.
func (c *callbacks) OnStreamResponse(_ context.Context, id int64, _ *discoveryv3.DiscoveryRequest, resp *discoveryv3.DiscoveryResponse) {
	c.sent(streamKey{id: id}, resp.GetTypeUrl(), resp.GetNonce(), resp.GetVersionInfo())
}

// OnDeltaStreamOpen implements serverv3.Callbacks.
func (c *callbacks) OnDeltaStreamOpen(_ context.Context, id int64, typeURL string) error {
	c.opened(streamKey{delta: true, id: id}, typeURL)
	return nil
}

// OnDeltaStreamClosed implements serverv3.Callbacks.
func (c *callbacks) OnDeltaStreamClosed(id int64, node *corev3.Node) {
	c.closed(streamKey{delta: true, id: id}, node)
}

// OnStreamDeltaRequest implements serverv3.Callbacks.
func (c *callbacks) OnStreamDeltaRequest(id int64, req *discoveryv3.DeltaDiscoveryRequest) error {
	c.received(streamKey{delta: true, id: id}, request{
		node: req.GetNode().GetId(), typeURL: req.GetTypeUrl(), nonce: req.GetResponseNonce(),
		nacked: req.GetErrorDetail() != nil, detail: req.GetErrorDetail().GetMessage(),
	})
	return nil
}

// OnStreamDeltaResponse implements serverv3.Callbacks.
func (c *callbacks) OnStreamDeltaResponse(id int64, _ *discoveryv3.DeltaDiscoveryRequest, resp *discoveryv3.DeltaDiscoveryResponse) {
	c.sent(streamKey{delta: true, id: id}, resp.GetTypeUrl(), resp.GetNonce(), resp.GetSystemVersionInfo())
}

// OnFetchRequest implements serverv3.Callbacks; REST fetch is not served.
func (c *callbacks) OnFetchRequest(context.Context, *discoveryv3.DiscoveryRequest) error { return nil }

// OnFetchResponse implements serverv3.Callbacks; REST fetch is not served.
func (c *callbacks) OnFetchResponse(*discoveryv3.DiscoveryRequest, *discoveryv3.DiscoveryResponse) {}

// truncate shortens s to at most n bytes without splitting a UTF-8 rune.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
