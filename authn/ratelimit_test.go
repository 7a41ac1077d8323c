package authn

import (
	"fmt"
	"testing"
	"time"
)

func TestIPLimiter(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	l := newIPLimiter(60, 3, func() time.Time { return now })
	for i := range 3 {
		if !l.allow("192.0.2.1") {
			t.Fatalf("start %d refused within the burst", i)
		}
	}
	if l.allow("192.0.2.1") {
		t.Fatal("the 4th start passed a burst of 3")
	}
	if !l.allow("192.0.2.2") {
		t.Fatal("another address is limited")
	}
	// One IPv6 /64 is one client.
	for i := range 3 {
		l.allow(fmt.Sprintf("2001:db8:1:2::%x", i+1))
	}
	if l.allow("2001:db8:1:2:ffff::1") {
		t.Fatal("a /64 cycling addresses escaped the limit")
	}
	now = now.Add(time.Second)
	if !l.allow("192.0.2.1") {
		t.Fatal("the bucket did not refill (1 per second)")
	}
}

// Addresses cycled by an attacker never grow the limiter past its bound.
func TestIPLimiterIsBounded(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	l := newIPLimiter(60, 3, func() time.Time { return now })
	for i := range maxBuckets + maxBuckets/2 {
		l.allow(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	if n := len(l.buckets); n > maxBuckets {
		t.Fatalf("%d buckets, bound is %d", n, maxBuckets)
	}
}
