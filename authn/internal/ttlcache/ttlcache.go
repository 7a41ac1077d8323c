// Package ttlcache is the small bounded cache the authn packages share: each entry lives until its own
// expiry, and when the cache is full the oldest entry goes.
package ttlcache

import (
	"container/list"
	"sync"
	"time"
)

// Cache holds at most max entries, each until its own expiry; when full, the oldest entry goes.
// Entries are stored in insertion order, so the oldest is at the front.
type Cache[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	items map[K]*list.Element
	order list.List // of *cacheEntry[K, V]
}

type cacheEntry[K comparable, V any] struct {
	key     K
	val     V
	expires time.Time
}

// New returns a cache of at most maxEntries entries.
func New[K comparable, V any](maxEntries int) *Cache[K, V] {
	return &Cache[K, V]{max: maxEntries, items: make(map[K]*list.Element)}
}

// Get returns the value for k unless it has expired at now.
func (c *Cache[K, V]) Get(k K, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	el, ok := c.items[k]
	if !ok {
		return zero, false
	}
	e := el.Value.(*cacheEntry[K, V])
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.items, k)
		return zero, false
	}
	return e.val, true
}

// Put stores v for k until expires, evicting the oldest entries beyond max.
func (c *Cache[K, V]) Put(k K, v V, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		c.order.Remove(el)
	}
	c.items[k] = c.order.PushBack(&cacheEntry[K, V]{key: k, val: v, expires: expires})
	for c.order.Len() > c.max {
		oldest := c.order.Front()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*cacheEntry[K, V]).key)
	}
}

// Len is the number of entries held, expired ones included.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
