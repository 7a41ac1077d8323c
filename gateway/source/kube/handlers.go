package kube

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// handler turns informer notifications into queued changes, dropping updates that change nothing
// kfgate reads (resourceVersion bumps, status, other annotations).
func (s *Source) handler(k kind) toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.observe(k, "add", nil, obj) },
		UpdateFunc: func(old, obj any) { s.observe(k, "update", old, obj) },
		DeleteFunc: func(obj any) { s.observe(k, "delete", obj, nil) },
	}
}

func (s *Source) observe(k kind, ev string, old, obj any) {
	c, ok := changeOf(k, old, obj)
	result := "queued"
	if ok {
		s.q.add(c, time.Now())
	} else {
		result = "dropped"
	}
	s.m.watch.WithLabelValues(k.String(), ev, result).Inc()
}

// changeOf is the change a notification carries; false when it carries none that matters. obj nil
// means old was deleted (old may then be a tombstone).
func changeOf(k kind, old, obj any) (change, bool) {
	if obj == nil {
		if t, ok := old.(toolscache.DeletedFinalStateUnknown); ok {
			old = t.Obj
		}
		o, ok := old.(client.Object)
		if !ok {
			return change{}, false
		}
		return change{kind: k, namespace: o.GetNamespace(), name: o.GetName()}, true
	}
	switch k {
	case kindService:
		svc, ok := obj.(*corev1.Service)
		if !ok {
			return change{}, false
		}
		if prev, ok := old.(*corev1.Service); ok && sameService(prev, svc) {
			return change{}, false
		}
		return change{kind: k, namespace: svc.Namespace, name: svc.Name, service: svc, written: writtenAt(svc.ObjectMeta)}, true
	case kindSlice:
		sl, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			return change{}, false
		}
		if prev, ok := old.(*discoveryv1.EndpointSlice); ok && sameSlice(prev, sl) {
			return change{}, false
		}
		return change{kind: k, namespace: sl.Namespace, name: sl.Name, slice: sl, written: writtenAt(sl.ObjectMeta)}, true
	default:
		sec, ok := obj.(*corev1.Secret)
		if !ok {
			return change{}, false
		}
		if prev, ok := old.(*corev1.Secret); ok && sameSecret(prev, sec) {
			return change{}, false
		}
		// No write time: the stripped Secret keeps no managedFields nor annotations.
		return change{kind: k, namespace: sec.Namespace, name: sec.Name, secret: sec}, true
	}
}
