package authn

import (
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipLimiter limits login starts per client address: a token bucket each. It holds at most
// maxBuckets; when full, buckets idle for a minute go, and if that is not enough a tenth of the rest,
// so an attacker cycling addresses costs a scan only once every maxBuckets/10 new addresses.
type ipLimiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

const maxBuckets = 50000

type bucket struct {
	l    *rate.Limiter
	seen time.Time
}

func newIPLimiter(perMinute float64, burst int, now func() time.Time) *ipLimiter {
	return &ipLimiter{limit: rate.Limit(perMinute / 60), burst: burst, now: now, buckets: map[string]*bucket{}}
}

// allow takes a token for ip.
func (l *ipLimiter) allow(ip string) bool {
	key := clientKey(ip)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{l: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	return b.l.AllowN(now, 1)
}

func (l *ipLimiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.seen) > time.Minute {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < maxBuckets*9/10 {
			return
		}
		delete(l.buckets, k)
	}
}

// clientKey is the unit a limit applies to: an IPv4 address, or an IPv6 /64 (one subscriber
// usually holds a whole /64).
func clientKey(ip string) string {
	p := net.ParseIP(ip)
	if p == nil || p.To4() != nil {
		return ip
	}
	return p.Mask(net.CIDRMask(64, 128)).String()
}
