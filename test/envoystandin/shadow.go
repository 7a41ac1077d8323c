package envoystandin

import (
	"io"
	"maps"
	"net/http"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"

	"github.com/kfgate/kfgate/test/routeeval"
)

// mirror sends each sampled mirror policy's copy of the request to its cluster, the host suffixed
// with -shadow, and ignores the answer (RO shadowing). An unknown mirror cluster is skipped, as
// Envoy does; a body that could not be buffered is not mirrored (Envoy mirrors only buffered bodies).
func (s *stream) mirror(final map[string]string, body func() io.Reader, replayable bool, timeout time.Duration) {
	for _, m := range s.decision.MirrorPolicies {
		if !envoyRuntime.FeatureEnabled("", m.Fraction, s.e.rnd.uint64()) {
			continue
		}
		c := s.cfg.clusters[m.Cluster]
		if c == nil || !replayable {
			continue
		}
		headers := maps.Clone(final)
		headers[":authority"] = shadowHost(headers[":authority"])
		s.e.bg(func() {
			ctx, cancel := withTimeout(s.e.ctx, timeout)
			defer cancel()
			hosts, err := c.hosts(ctx, s.cfg)
			if err != nil || len(hosts) == 0 {
				return
			}
			h := c.lb.pick(hosts, "", false)
			req := s.upstreamRequest(ctx, c, h, headers, body, timeout, 0)
			if resp, err := c.transport.RoundTrip(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
}

// shadowHost is ShadowWriterImpl::shadowAppendedHost: "-shadow" goes after the host name, before
// any port ("h:8080" → "h-shadow:8080").
func shadowHost(host string) string {
	i := routeeval.PortStart(host)
	if i < 0 {
		return host + "-shadow"
	}
	return host[:i] + "-shadow" + host[i:]
}

// hashKey is the key the route's hash policies give, for clusters whose balancer hashes (a
// round-robin balancer never asks, so the policies are not evaluated then). The policies' values
// are joined, where Envoy combines their hashes.
func (s *stream) hashKey(c *cluster) (string, bool) {
	if c.lb.policy != clusterv3.Cluster_RING_HASH && c.lb.policy != clusterv3.Cluster_MAGLEV {
		return "", false
	}
	var parts []string
	for _, hp := range s.decision.HashPolicy {
		switch {
		case hp.GetHeader() != nil:
			if v, ok := s.req.headers[strings.ToLower(hp.GetHeader().GetHeaderName())]; ok {
				parts = append(parts, v)
			}
		case hp.GetCookie() != nil:
			if ck, err := (&http.Request{Header: http.Header{"Cookie": {s.req.headers["cookie"]}}}).Cookie(hp.GetCookie().GetName()); err == nil {
				parts = append(parts, ck.Value)
			} else if hp.GetCookie().GetTtl() != nil {
				s.e.fail("hash policy cookie %q: generating the cookie (ttl set, none sent) is not implemented", hp.GetCookie().GetName())
			}
		case hp.GetConnectionProperties().GetSourceIp():
			parts = append(parts, hostOnly(s.remote))
		}
	}
	return strings.Join(parts, "\x00"), len(parts) > 0
}
