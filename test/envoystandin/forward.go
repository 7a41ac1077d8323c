package envoystandin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kfgate/kfgate/test/routeeval"
)

const (
	defaultRouteTimeout = 15 * time.Second
	retryBufferLimit    = 1 << 20 // the connection buffer limit Envoy buffers a retried body within
	connectError        = "upstream connect error or disconnect/reset before headers. reset reason: "
)

// attemptResult is one upstream attempt's outcome.
type attemptResult struct {
	resp    *http.Response
	release func()
	local   *response // a failure as the router answers it
	failed  bool      // the attempt failed upstream (a reset, a timeout, a connection failure)
	connect bool      // the failure was the connection's
}

// forward sends the request to cluster c (RO): the route's mutations and rewrites, the expected
// timeout header, mirrors, retries, and the response with the route's response mutations.
func (s *stream) forward(c *cluster) *response {
	d := s.decision
	if d.PathRewritten && s.req.path != s.routed {
		// Envoy rewrites the :path as a filter left it; routeeval's rewrite is of the routed path.
		s.e.fail("a path rewrite of a :path a filter changed after routing (%q → %q) is not implemented", s.routed, s.req.path)
	}
	final := routeeval.FinalRequestHeaders(s.evalRequest(), d)
	s.logged = final
	retry := s.routes.retryPolicy(d.RetryPolicy)
	global := defaultRouteTimeout
	if d.Timeout != nil {
		global = *d.Timeout // 0: no timeout
	}
	var perTry time.Duration
	if retry != nil && (global == 0 || retry.perTry < global) {
		perTry = retry.perTry
	}
	body, replayable := s.replayableBody(retry != nil || len(d.MirrorPolicies) > 0)
	ctx, cancel := withTimeout(s.r.Context(), global)
	s.mirror(final, body, replayable, global)
	retrying := false
	for n := 0; ; n++ {
		res := s.attempt(ctx, c, final, body, global, perTry)
		if retrying {
			c.breaker.retryDone()
		}
		retriable := res.local != nil && res.failed && retry.retriableFailure(res.connect) ||
			res.resp != nil && retry.retriableResponse(res.resp)
		retrying = n < retry.num() && replayable && retriable && ctx.Err() == nil && c.breaker.retry()
		if retrying {
			if res.resp != nil {
				_ = res.resp.Body.Close()
				res.release()
			}
			select {
			case <-time.After(s.e.backoff(n + 1)):
			case <-ctx.Done():
			}
			continue
		}
		if res.local != nil {
			cancel()
			return res.local
		}
		return s.upstreamResponse(res, cancel)
	}
}

func (r *retryPolicy) num() int {
	if r == nil {
		return 0
	}
	return r.numRetries
}

// withTimeout is context.WithTimeout, or WithCancel when d is not positive (no timeout).
func withTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(parent)
	}
	return context.WithTimeout(parent, d)
}

// attempt is one try: a host of the cluster, the circuit breaker, the request.
func (s *stream) attempt(ctx context.Context, c *cluster, final map[string]string, body func() io.Reader,
	global, perTry time.Duration) attemptResult {
	hosts, err := c.hosts(ctx, s.cfg)
	if err != nil {
		s.e.logf("envoystandin: cluster %s: resolving: %v", c.name, err)
	}
	if len(hosts) == 0 {
		return attemptResult{local: localReply(http.StatusServiceUnavailable, "no healthy upstream", "UH")}
	}
	key, hashed := s.hashKey(c)
	h := c.lb.pick(hosts, key, hashed)
	if err := c.breaker.acquire(ctx, c.http2); errors.Is(err, errOverflow) {
		return attemptResult{local: localReply(http.StatusServiceUnavailable, connectError+"overflow", "UO")}
	} else if err != nil {
		return s.failure(ctx, ctx, err) // the route timeout expired while pending
	}
	c.lb.started(h)
	var once sync.Once
	release := func() { once.Do(func() { c.breaker.release(); c.lb.finished(h) }) }
	s.upstream = h.addr
	actx, acancel := ctx, context.CancelFunc(func() {})
	if perTry > 0 {
		actx, acancel = context.WithTimeout(ctx, perTry)
	}
	req := s.upstreamRequest(actx, c, h, final, body, global, perTry)
	start := time.Now()
	resp, err := c.transport.RoundTrip(req)
	s.upstreamT = time.Since(start)
	if err != nil {
		acancel()
		release()
		return s.failure(ctx, actx, err)
	}
	return attemptResult{resp: resp, release: func() { acancel(); release() }}
}

// failure is the router's answer to an attempt that got no response headers.
func (s *stream) failure(ctx, actx context.Context, err error) attemptResult {
	var op *net.OpError
	switch {
	case ctx.Err() != nil:
		return attemptResult{local: localReply(http.StatusGatewayTimeout, "upstream request timeout", "UT")}
	case actx.Err() != nil: // the per-try timeout
		return attemptResult{local: localReply(http.StatusGatewayTimeout, "upstream request timeout", "UT"), failed: true}
	case errors.As(err, &op) && op.Op == "dial":
		reason := "connection failure"
		if op.Timeout() {
			reason = "connection timeout"
		}
		return attemptResult{local: localReply(http.StatusServiceUnavailable, connectError+reason, "UF"), failed: true, connect: true}
	default:
		s.e.logf("envoystandin: upstream %s: %v", s.upstream, err)
		return attemptResult{local: localReply(http.StatusServiceUnavailable, connectError+"connection termination", "UC"), failed: true}
	}
}

// upstreamRequest builds the request to host h: the final headers, the :path as it is (no
// re-encoding), and the x-envoy-expected-rq-timeout-ms the router adds (finalTimeout).
func (s *stream) upstreamRequest(ctx context.Context, c *cluster, h host, final map[string]string, body func() io.Reader,
	global, perTry time.Duration) *http.Request {
	method, path, authority, hdr := upstreamHeaders(final)
	if s.decision.AutoHostRewrite && h.hostname != "" {
		if s.decision.AppendXForwardedHost {
			appendForwardedHost(hdr, authority)
		}
		authority = h.hostname
	}
	expected := perTry
	if expected == 0 {
		expected = global
	}
	if global > 0 {
		elapsed := time.Since(s.start).Truncate(time.Millisecond) // Envoy counts whole milliseconds
		if left := global - elapsed; left < expected {
			expected = max(left, time.Millisecond)
		}
	}
	if expected > 0 {
		hdr["X-Envoy-Expected-Rq-Timeout-Ms"] = []string{strconv.FormatInt(expected.Milliseconds(), 10)}
	}
	p, q := splitQuery(path)
	u := &url.URL{Scheme: c.scheme(), Host: h.addr, Opaque: p, RawQuery: strings.TrimPrefix(q, "?"), ForceQuery: q == "?"}
	if strings.HasPrefix(p, "//") {
		u.Opaque, u.Path, u.RawPath = "", p, p // an Opaque "//..." would be read as an authority
	}
	req := (&http.Request{Method: method, URL: u, Host: authority, Header: hdr, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}).WithContext(ctx)
	if b := body(); b != nil {
		req.Body = io.NopCloser(b)
		req.ContentLength = s.r.ContentLength
	}
	return req
}

// appendForwardedHost appends the old host to x-forwarded-host unless it is already last.
func appendForwardedHost(h http.Header, host string) {
	xfh := h.Get("X-Forwarded-Host")
	if xfh == "" {
		h.Set("X-Forwarded-Host", host)
		return
	}
	parts := strings.Split(xfh, ",")
	if strings.TrimSpace(parts[len(parts)-1]) != host {
		h.Set("X-Forwarded-Host", xfh+","+host)
	}
}

// replayableBody returns the request body for each attempt. When the body may be sent more than
// once (retries, mirrors) it is buffered, up to the buffer limit; beyond it, it can be sent once.
func (s *stream) replayableBody(again bool) (func() io.Reader, bool) {
	if s.r.ContentLength == 0 {
		return func() io.Reader { return nil }, true
	}
	if !again {
		used := false
		return func() io.Reader {
			if used {
				return nil
			}
			used = true
			return s.body
		}, false
	}
	buf, err := io.ReadAll(io.LimitReader(s.body, retryBufferLimit+1))
	if err != nil || len(buf) > retryBufferLimit {
		rest := io.MultiReader(bytes.NewReader(buf), s.body)
		used := false
		return func() io.Reader {
			if used {
				return nil
			}
			used = true
			return rest
		}, false
	}
	return func() io.Reader { return bytes.NewReader(buf) }, true
}

// upstreamResponse is the response downstream gets: the upstream's, with the router's
// x-envoy-upstream-service-time and the route's response mutations.
func (s *stream) upstreamResponse(res attemptResult, cancel context.CancelFunc) *response {
	resp := res.resp
	out := &response{status: resp.StatusCode, header: headerMap{}}
	for k, vs := range resp.Header {
		out.header[strings.ToLower(k)] = vs
	}
	setHeader(out.header, "x-envoy-upstream-service-time", strconv.FormatInt(s.upstreamT.Milliseconds(), 10))
	applyRouteResponse(out.header, s.decision)
	done := func() { cancel(); res.release() }
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if rwc, ok := resp.Body.(io.ReadWriteCloser); ok {
			out.upgrade = &upgradeConn{ReadWriteCloser: rwc, done: done}
			return out
		}
	}
	out.body = &bodyCloser{ReadCloser: resp.Body, done: done}
	if len(resp.Trailer) > 0 {
		out.trailer = func() http.Header { return resp.Trailer }
	}
	return out
}

type bodyCloser struct {
	io.ReadCloser
	done func()
}

func (b *bodyCloser) Close() error {
	err := b.ReadCloser.Close()
	b.done()
	return err
}

type upgradeConn struct {
	io.ReadWriteCloser
	done func()
}

func (u *upgradeConn) Close() error {
	err := u.ReadWriteCloser.Close()
	u.done()
	return err
}
