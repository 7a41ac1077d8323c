package ttlcache

import (
	"testing"
	"time"
)

func TestTTLCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := New[string, int](3)
	c.Put("a", 1, now.Add(time.Second))
	if v, ok := c.Get("a", now); !ok || v != 1 {
		t.Fatalf("get a: %v %v", v, ok)
	}
	if _, ok := c.Get("a", now.Add(time.Second)); ok {
		t.Fatal("an entry outlived its expiry")
	}
	if c.Len() != 0 {
		t.Fatal("an expired entry stayed")
	}
	for i, k := range []string{"a", "b", "c", "d"} {
		c.Put(k, i, now.Add(time.Hour))
	}
	if c.Len() != 3 {
		t.Fatalf("%d entries, want at most 3", c.Len())
	}
	if _, ok := c.Get("a", now); ok {
		t.Fatal("the oldest entry was not evicted")
	}
	c.Put("b", 10, now.Add(time.Hour)) // b is now the newest
	c.Put("e", 4, now.Add(time.Hour))
	if _, ok := c.Get("c", now); ok {
		t.Fatal("c should have been evicted before the rewritten b")
	}
	if v, _ := c.Get("b", now); v != 10 {
		t.Fatalf("b = %d", v)
	}
}
