package kube

import (
	"cmp"
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
	s.peak = max(s.peak, services)
	if from := cmp.Or(s.opts.CompactFrom, DefaultCompactFrom); s.peak >= from && 2*services <= s.peak {
		s.compact(ctx)
	}
	now := time.Now()
	for _, c := range batch {
		if !c.written.IsZero() {
			s.m.writeToSnap.Observe(max(0, now.Sub(c.written).Seconds()))
		}
	}
}

// compact rebuilds the Engine from the informer cache after the world has halved: Go neither moves
// objects nor shrinks maps, so the survivors' state would otherwise stay spread over memory sized for
// the peak. The content is the same, so no Envoy is sent anything. Changes queued meanwhile are
// applied after it, as usual (applying a change twice changes nothing).
func (s *Source) compact(ctx context.Context) {
	var svcs corev1.ServiceList
	var sls discoveryv1.EndpointSliceList
	c := s.mgr.GetCache()
	if err := errors.Join(c.List(ctx, &svcs, client.UnsafeDisableDeepCopy), c.List(ctx, &sls, client.UnsafeDisableDeepCopy)); err != nil {
		s.log.Error(err, "listing the cache to rebuild from scratch")
		return
	}
	err := s.runner.Reset(ctx, func(e *build.Engine) {
		ptrs := make([]*corev1.Service, len(svcs.Items))
		for i := range svcs.Items {
			ptrs[i] = &svcs.Items[i]
		}
		e.ApplyServices(ptrs)
		for i := range sls.Items {
			e.SetEndpointSlice(&sls.Items[i])
		}
	})
	if err == nil {
		s.peak = len(svcs.Items)
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
		case c.deleted():
			e.DeleteEndpointSlice(c.namespace, c.name)
		default:
			e.SetEndpointSlice(c.slice)
		}
	}
	e.ApplyServices(svcs)
}
