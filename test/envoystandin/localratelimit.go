package envoystandin

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	commonratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	"github.com/kfgate/kfgate/test/routeeval"
)

// localRateLimit is a LocalRateLimit config, the filter's own or a route's (LRL): a token bucket
// (a route's is its own), the enabled and enforced fractions, the status and x-ratelimit headers.
type localRateLimit struct {
	bucket            *tokenBucket
	enabled, enforced *typev3.FractionalPercent // nil: 0%, the default "for safety"
	status            int
	xHeaders          bool
}

func compileLocalRateLimit(c *localratelimitv3.LocalRateLimit, perRoute bool, path string) (*localRateLimit, error) {
	out := &localRateLimit{status: http.StatusTooManyRequests,
		xHeaders: c.GetEnableXRatelimitHeaders() == commonratelimitv3.XRateLimitHeadersRFCVersion_DRAFT_VERSION_03}
	if c.GetFilterEnabled() != nil {
		out.enabled = c.GetFilterEnabled().GetDefaultValue()
	}
	if c.GetFilterEnforced() != nil {
		out.enforced = c.GetFilterEnforced().GetDefaultValue()
	}
	if code := int(c.GetStatus().GetCode()); code >= 400 && code <= 599 {
		out.status = code // below 400 is 429
	}
	tb := c.GetTokenBucket()
	if tb == nil {
		if perRoute {
			return nil, fmt.Errorf("%s: local rate limit token bucket must be set for per filter configs", path)
		}
		out.bucket = &tokenBucket{} // no tokens, never filled: only a filter that is enabled uses it
		return out, nil
	}
	b := &tokenBucket{max: tb.GetMaxTokens(), perFill: 1, interval: tb.GetFillInterval().AsDuration(), tokens: tb.GetMaxTokens(), filled: time.Now()}
	if tb.GetTokensPerFill() != nil {
		b.perFill = tb.GetTokensPerFill().GetValue()
	}
	if b.interval > 0 && b.interval < 50*time.Millisecond {
		return nil, fmt.Errorf("%s: local rate limit token bucket fill timer must be >= 50ms", path)
	}
	out.bucket = b
	return out, nil
}

// tokenBucket is Envoy's timer token bucket: full at first, tokens_per_fill added every
// fill_interval (computed lazily here), up to max_tokens.
type tokenBucket struct {
	mu           sync.Mutex
	max, perFill uint32
	interval     time.Duration
	tokens       uint32
	filled       time.Time
}

// take consumes a token if there is one, and returns the x-ratelimit values as they are then.
func (b *tokenBucket) take(now time.Time) (ok bool, limit, remaining, reset int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.interval > 0 {
		if n := now.Sub(b.filled) / b.interval; n > 0 {
			b.tokens = uint32(min(uint64(b.max), uint64(b.tokens)+uint64(n)*uint64(b.perFill)))
			b.filled = b.filled.Add(n * b.interval)
		}
	}
	if b.tokens > 0 {
		b.tokens--
		ok = true
	}
	// Remaining time to the next fill, in whole seconds (remainingFillInterval).
	reset = int64(b.interval/time.Second) - int64(now.Sub(b.filled)/time.Second)
	return ok, int64(b.max), int64(b.tokens), reset
}

// envoyRuntime is the runtime under kfgate's bootstrap, which configures no runtime layer.
var envoyRuntime routeeval.Runtime = routeeval.EmptyRuntime{}

type localRateLimitFilter struct {
	name string
	cfg  *localRateLimit
}

func compileLocalRateLimitFilter(name string, c *localratelimitv3.LocalRateLimit, path string) (httpFilter, error) {
	cfg, err := compileLocalRateLimit(c, false, path)
	if err != nil {
		return nil, err
	}
	return &localRateLimitFilter{name: name, cfg: cfg}, nil
}

func (f *localRateLimitFilter) newInstance() filterInstance { return &localRateLimitStream{f: f} }

type localRateLimitStream struct {
	f      *localRateLimitFilter
	used   *localRateLimit
	values [3]int64
}

func (l *localRateLimitStream) decodeHeaders(s *stream) *response {
	cfg := l.f.cfg
	if per, ok := perFilterConfig[*localRateLimit](s, l.f.name); ok {
		cfg = per // the most specific config, its own bucket
	}
	if !envoyRuntime.FeatureEnabled("", cfg.enabled, s.e.rnd.uint64()) {
		return nil
	}
	ok, limit, remaining, reset := cfg.bucket.take(time.Now())
	l.used, l.values = cfg, [3]int64{limit, remaining, reset}
	if ok || !envoyRuntime.FeatureEnabled("", cfg.enforced, s.e.rnd.uint64()) {
		return nil
	}
	return localReply(cfg.status, "local_rate_limited", "RL")
}

func (l *localRateLimitStream) encodeHeaders(_ *stream, resp *response) {
	if l.used == nil || !l.used.xHeaders {
		return
	}
	for i, k := range []string{"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} {
		addHeader(resp.header, k, strconv.FormatInt(l.values[i], 10))
	}
}
