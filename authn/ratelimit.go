package authn

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipLimiter limits login starts per client address: a token bucket each, forgotten when idle.
type ipLimiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	l    *rate.Limiter
	seen time.Time
}

func newIPLimiter(perMinute float64, burst int, now func() time.Time) *ipLimiter {
	return &ipLimiter{limit: rate.Limit(perMinute / 60), burst: burst, now: now, buckets: map[string]*bucket{}}
}

// allow takes a token for ip.
func (l *ipLimiter) allow(ip string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) > 50000 {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
	}
	b, ok := l.buckets[ip]
	if !ok {
		b = &bucket{l: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[ip] = b
	}
	b.seen = now
	return b.l.AllowN(now, 1)
}
