package kube

import (
	"context"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
)

// maxQueuedEvents bounds the Events waiting to be written; beyond it the oldest are dropped (and
// counted) rather than holding the rebuild loop or memory hostage to a slow API server.
const maxQueuedEvents = 4096

// eventWriter writes planned Events while this replica leads (Start runs for as long as it holds the
// Lease); followers drop what they plan. A replica that starts leading first states the current
// problems (restate): what it planned as a follower was said by the old leader, or by nobody if
// there was none (a first start, or a leader that crashed before writing).
type eventWriter struct {
	rec     events.EventRecorder
	log     logr.Logger
	m       *metrics
	restate func() []event

	mu     sync.Mutex
	leader bool
	queue  []event
	wake   chan struct{}
}

func newEventWriter(rec events.EventRecorder, restate func() []event, log logr.Logger, m *metrics) *eventWriter {
	return &eventWriter{rec: rec, restate: restate, log: log, m: m, wake: make(chan struct{}, 1)}
}

// Start writes Events until ctx ends (leadership lost or shutdown).
func (w *eventWriter) Start(ctx context.Context) {
	w.mu.Lock()
	w.leader = true
	w.push(w.restate())
	w.mu.Unlock()
	w.m.leader.Set(1)
	defer func() {
		w.mu.Lock()
		w.leader, w.queue = false, nil
		w.mu.Unlock()
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
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.leader {
		w.push(evs)
	}
}

// push queues Events for the writing loop; w.mu held.
func (w *eventWriter) push(evs []event) {
	if len(evs) == 0 {
		return
	}
	w.queue = append(w.queue, evs...)
	if over := len(w.queue) - maxQueuedEvents; over > 0 {
		w.queue = w.queue[over:]
		w.m.eventsDropped.Add(float64(over))
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
