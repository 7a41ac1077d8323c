package kube

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfgate/kfgate/gateway/source"
)

type kind uint8

const (
	kindService kind = iota
	kindSlice
	kindSecret
)

// kinds are the kinds the Source watches, each with an informer (and its metric series).
var kinds = []kind{kindService, kindSlice, kindSecret}

func (k kind) String() string {
	switch k {
	case kindService:
		return "service"
	case kindSlice:
		return "endpointslice"
	default:
		return "secret"
	}
}

// object is an empty object of the kind, to ask the cache for its informer.
func (k kind) object() client.Object {
	switch k {
	case kindService:
		return &corev1.Service{}
	case kindSlice:
		return &discoveryv1.EndpointSlice{}
	default:
		return &corev1.Secret{}
	}
}

// change is the latest state of one object: a Service, an EndpointSlice, a kubernetes.io/tls
// Secret, or its deletion.
type change struct {
	kind            kind
	namespace, name string
	service         *corev1.Service
	slice           *discoveryv1.EndpointSlice
	secret          *corev1.Secret // stripped to the keys kfgate reads; never logged
	written         time.Time      // when the object was written, zero when unknown
}

// deleted: the change carries no object, only its name.
func (c change) deleted() bool { return c.service == nil && c.slice == nil && c.secret == nil }

type changeKey struct {
	kind            kind
	namespace, name string
}

// queue coalesces changes by object (a burst of updates to one object costs one apply) and marks the
// world dirty; the rebuild loop takes everything at once after the debounce.
type queue struct {
	mu          sync.Mutex
	items       map[changeKey]change
	first, last time.Time // of the changes not yet taken
	prevLast    time.Time // the last change of the batch taken before
	wake        chan struct{}
}

func newQueue() *queue {
	return &queue{items: map[changeKey]change{}, wake: make(chan struct{}, 1)}
}

func (q *queue) add(c change, now time.Time) {
	q.mu.Lock()
	q.items[changeKey{c.kind, c.namespace, c.name}] = c
	if q.first.IsZero() {
		q.first = now
	}
	q.last = now
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// due is when the pending changes should be built, false when there are none.
func (q *queue) due(d source.Debounce) (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return time.Time{}, false
	}
	return dueTime(q.prevLast, q.first, q.last, d), true
}

// dueTime says when to build the changes that arrived from first to last, the change before them
// having arrived at prevLast. A change that comes a holdoff or more after the one before is built at
// once: a lone edit does not wait. A change that follows another closely is part of a burst, and the
// burst is batched: built Holdoff after its last change, but no later than Max after its first. (The
// file source always waits out its holdoff: an editor's save is several file events, an API write one
// whole object.)
func dueTime(prevLast, first, last time.Time, d source.Debounce) time.Time {
	if first.Sub(prevLast) >= d.Holdoff {
		return first
	}
	t := last.Add(d.Holdoff)
	if limit := first.Add(d.Max); t.After(limit) {
		return limit
	}
	return t
}

// take returns the pending changes and when the first of them arrived.
func (q *queue) take() ([]change, time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]change, 0, len(q.items))
	for _, c := range q.items {
		out = append(out, c)
	}
	first := q.first
	clear(q.items)
	q.prevLast, q.first, q.last = q.last, time.Time{}, time.Time{}
	return out, first
}
