package kube

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
)

// maxQueuedEvents bounds the Events waiting to be written; beyond it the oldest are dropped (and
// counted) rather than holding the rebuild loop or memory hostage to a slow API server.
const maxQueuedEvents = 4096

// eventWriter writes planned Events while this replica leads (Start runs for as long as it holds the
// Lease); followers drop what they plan.
type eventWriter struct {
	rec    events.EventRecorder
	log    logr.Logger
	m      *metrics
	leader atomic.Bool

	mu    sync.Mutex
	queue []event
	wake  chan struct{}
}

func newEventWriter(rec events.EventRecorder, log logr.Logger, m *metrics) *eventWriter {
	return &eventWriter{rec: rec, log: log, m: m, wake: make(chan struct{}, 1)}
}

// Start writes Events until ctx ends (leadership lost or shutdown).
func (w *eventWriter) Start(ctx context.Context) {
	w.leader.Store(true)
	w.m.leader.Set(1)
	defer func() {
		w.leader.Store(false)
		w.m.leader.Set(0)
		w.log.Info("no longer leading: Events are left to the new leader")
	}()
	w.log.Info("leading: this replica writes Events")
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		w.mu.Lock()
		batch := w.queue
		w.queue = nil
		w.mu.Unlock()
		for _, e := range batch {
			w.write(e)
		}
	}
}

func (w *eventWriter) write(e event) {
	typ := corev1.EventTypeNormal
	if e.warning {
		typ = corev1.EventTypeWarning
	}
	w.rec.Eventf(e.regarding(), nil, typ, e.reason, eventAction, "%s", e.note)
	w.m.events.WithLabelValues(typ, e.reason).Inc()
}

// enqueue hands planned Events to the writer; a follower drops them (the leader plans the same).
func (w *eventWriter) enqueue(evs []event) {
	if len(evs) == 0 || !w.leader.Load() {
		return
	}
	w.mu.Lock()
	w.queue = append(w.queue, evs...)
	if over := len(w.queue) - maxQueuedEvents; over > 0 {
		w.queue = w.queue[over:]
		w.m.eventsDropped.Add(float64(over))
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
