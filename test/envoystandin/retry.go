package envoystandin

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// retryPolicy is a compiled RetryPolicy (source/common/router/retry_state_impl.cc).
type retryPolicy struct {
	on         []string
	numRetries int
	perTry     time.Duration
}

// retryOns are the retry_on conditions implemented. retriable-status-codes and retriable-headers
// match nothing here: the fields naming their codes and headers are not in the allowlist.
var retryOns = []string{"5xx", "gateway-error", "reset", "connect-failure", "retriable-4xx", "refused-stream",
	"reset-before-request", "envoy-ratelimited", "retriable-status-codes", "retriable-headers"}

func compileRetry(p *routev3.RetryPolicy, path string) (*retryPolicy, error) {
	out := &retryPolicy{numRetries: 1}
	for _, t := range strings.Split(p.GetRetryOn(), ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !slices.Contains(retryOns, t) {
			return nil, fmt.Errorf("%s.retry_on: %q is not implemented", path, t)
		}
		out.on = append(out.on, t)
	}
	if p.GetNumRetries() != nil {
		out.numRetries = int(p.GetNumRetries().GetValue())
	}
	if p.GetPerTryTimeout() != nil {
		out.perTry = p.GetPerTryTimeout().AsDuration()
	}
	return out, nil
}

// addRetry checks and compiles a virtual host's or route's retry policy, keyed by the proto
// routeeval's Decision hands back.
func (rt *routeTable) addRetry(p *routev3.RetryPolicy, path string) error {
	if p == nil {
		return nil
	}
	if err := checkPolicy(p, path); err != nil {
		return err
	}
	c, err := compileRetry(p, path)
	if err != nil {
		return err
	}
	rt.retries[p] = c
	return nil
}

// retryPolicy is the decision's retry policy as compiled with the table (nil: no retries).
func (rt *routeTable) retryPolicy(p *routev3.RetryPolicy) *retryPolicy {
	return rt.retries[p]
}

func (r *retryPolicy) has(conds ...string) bool {
	for _, c := range conds {
		if slices.Contains(r.on, c) {
			return true
		}
	}
	return false
}

// retriableResponse: 5xx any 5xx; gateway-error 502, 503, 504; retriable-4xx 409; envoy-ratelimited
// an x-envoy-ratelimited header.
func (r *retryPolicy) retriableResponse(resp *http.Response) bool {
	if r == nil {
		return false
	}
	c := resp.StatusCode
	switch {
	case c >= 500 && r.has("5xx"):
		return true
	case (c == 502 || c == 503 || c == 504) && r.has("gateway-error"):
		return true
	case c == 409 && r.has("retriable-4xx"):
		return true
	case resp.Header.Get("X-Envoy-Ratelimited") != "" && r.has("envoy-ratelimited"):
		return true
	}
	return false
}

// retriableFailure: a reset (or per-try timeout) is retried under reset, 5xx and gateway-error, a
// connection failure also under connect-failure (wouldRetryFromReset).
func (r *retryPolicy) retriableFailure(connectFailure bool) bool {
	if r == nil {
		return false
	}
	return r.has("reset", "5xx", "gateway-error") || (connectFailure && r.has("connect-failure", "reset-before-request"))
}

// backoff is Envoy's jittered exponential backoff: base 25ms, at most 250ms, fully jittered.
func (e *Envoy) backoff(retry int) time.Duration {
	const base, maxBackoff = 25 * time.Millisecond, 250 * time.Millisecond
	ceil := min(maxBackoff, base*time.Duration(1<<min(retry, 10)-1))
	if ceil <= 0 {
		return 0
	}
	return time.Duration(e.rnd.uint64() % uint64(ceil))
}
