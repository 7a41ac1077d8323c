package kube

import (
	"cmp"
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kfgate/kfgate/gateway/build"
)

// loop rebuilds once the debounce of the pending changes is over, until ctx ends.
func (s *Source) loop(ctx context.Context) {
	for {
		due, ok := s.q.due(s.opts.Debounce)
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-s.q.wake:
				continue
			}
		}
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-s.q.wake: // more changes: the holdoff moves
				t.Stop()
				continue
			case <-t.C:
			}
		}
		s.rebuild(ctx)
	}
}

func (s *Source) rebuild(ctx context.Context) {
	batch, first := s.q.take()
	if !first.IsZero() {
		s.m.debounce.Observe(time.Since(first).Seconds())
	}
	services := 0
	err := s.runner.Update(ctx, func(e *build.Engine) {
		s.apply(e, batch)
		services = e.Services()
	})
	if err != nil {
		return // the runner logged it and keeps serving the last good snapshot
	}
	// Once the world has halved from a large peak, a fresh Engine gives back the memory sized for it.
	s.peak = max(s.peak, services)
	if from := cmp.Or(s.opts.CompactFrom, DefaultCompactFrom); s.peak >= from && 2*services <= s.peak {
		if s.runner.Compact(ctx) == nil {
			s.peak = services
		}
	}
	now := time.Now()
	for _, c := range batch {
		if !c.written.IsZero() {
			s.m.writeToSnap.Observe(max(0, now.Sub(c.written).Seconds()))
		}
	}
}

// apply hands a batch to the Engine; the Services' annotations are decoded together, in parallel.
func (s *Source) apply(e *build.Engine, batch []change) {
	var svcs []*corev1.Service
	for _, c := range batch {
		switch {
		case c.kind == kindService && c.deleted():
			e.RemoveService(c.namespace, c.name)
			s.plan.forget(c.namespace, c.name)
		case c.kind == kindService:
			svcs = append(svcs, c.service)
		case c.kind == kindSlice && c.deleted():
			e.DeleteEndpointSlice(c.namespace, c.name)
		case c.kind == kindSlice:
			e.SetEndpointSlice(c.slice)
		case c.deleted():
			e.DeleteSecret(c.namespace, c.name)
		default:
			e.SetSecret(c.secret)
		}
	}
	e.ApplyServices(svcs)
}
