package kube

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kfgate/kfgate/gateway/build"
	"github.com/kfgate/kfgate/gateway/controlplane"
)

// The permissions a Source needs, as controller-gen markers; kustomize/base/controlplane/rbac.yaml
// grants exactly these and the envtest suite runs a replica under it.
//
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=kfgate

// Source watches Services and EndpointSlices and drives a Runner with their changes.
type Source struct {
	opts   Options
	runner *controlplane.Runner
	mgr    manager.Manager
	lock   resourcelock.Interface
	q      *queue
	plan   *planner
	writer *eventWriter
	m      *metrics
	log    logr.Logger
	peak   int // the most Services the Engine held since it was last built from scratch
}

// New prepares a Source; nothing talks to the API server before Run.
func New(opts Options, runner *controlplane.Runner) (*Source, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	mgr, err := newManager(opts)
	if err != nil {
		return nil, err
	}
	s := &Source{opts: opts, runner: runner, mgr: mgr, q: newQueue(), plan: newPlanner(), m: newMetrics(), log: opts.Logger}
	if err := s.m.register(opts.Registry); err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	s.writer = newEventWriter(mgr.GetEventRecorder(opts.Component), s.plan.current, opts.Logger.WithName("events"), s.m)
	if !opts.Leader.Disabled {
		cs, err := kubernetes.NewForConfig(opts.Config)
		if err != nil {
			return nil, fmt.Errorf("leader election client: %w", err)
		}
		s.lock = &resourcelock.LeaseLock{ // no EventRecorder: Lease changes are not worth Events (nor the RBAC)
			LeaseMeta:  metav1.ObjectMeta{Namespace: opts.Leader.Namespace, Name: opts.Leader.Name},
			Client:     cs.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: opts.Leader.Identity},
		}
	}
	runner.OnPublish(func(res *build.Result) { s.writer.enqueue(s.plan.plan(res.Diagnostics)) })
	return s, nil
}

func newManager(opts Options) (manager.Manager, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, discoveryv1.AddToScheme, eventsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	// Only slices that belong to a Service can matter: the rest are filtered out by the API server.
	owned, err := labels.NewRequirement(discoveryv1.LabelServiceName, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	copts := cache.Options{Scheme: scheme, ByObject: map[client.Object]cache.ByObject{
		&corev1.Service{}:            {Transform: stripService},
		&discoveryv1.EndpointSlice{}: {Label: labels.NewSelector().Add(*owned), Transform: stripSlice},
	}}
	if len(opts.Namespaces) > 0 {
		copts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range opts.Namespaces {
			copts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	mgr, err := manager.New(opts.Config, manager.Options{
		Scheme: scheme, Cache: copts, Logger: opts.Logger,
		Metrics:                metricsserver.Options{BindAddress: "0"}, // kfgate serves its own /metrics
		HealthProbeBindAddress: "0",
		// Leader election is kfgate's own (see lead): controller-runtime's ends the process when the
		// Lease is lost, which would drop every Envoy connection of a replica that only had to stop
		// writing Events.
		LeaderElection: false,
	})
	if err != nil {
		return nil, fmt.Errorf("controller-runtime manager: %w", err)
	}
	return mgr, nil
}

// Run watches until ctx ends. The first build waits for the caches to sync, so that a restarting
// control plane never serves a partial view to the Envoys that reconnect to it.
func (s *Source) Run(ctx context.Context) error {
	for k, obj := range map[kind]client.Object{kindService: &corev1.Service{}, kindSlice: &discoveryv1.EndpointSlice{}} {
		inf, err := s.mgr.GetCache().GetInformer(ctx, obj, cache.BlockUntilSynced(false))
		if err != nil {
			return fmt.Errorf("%s informer: %w", k, err)
		}
		if _, err := inf.AddEventHandler(s.handler(k)); err != nil {
			return fmt.Errorf("%s event handler: %w", k, err)
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.mgr.Start(ctx) })
	g.Go(func() error {
		start := time.Now()
		if !s.mgr.GetCache().WaitForCacheSync(ctx) {
			return nil // ctx ended
		}
		s.log.Info("caches synced", "took", time.Since(start))
		s.rebuild(ctx) // the first snapshot, even of an empty cluster: it makes the replica ready
		s.loop(ctx)
		return nil
	})
	g.Go(func() error {
		if s.lock == nil {
			s.writer.Start(ctx)
			return nil
		}
		s.lead(ctx)
		return nil
	})
	return g.Wait()
}

// lead campaigns for the Lease for as long as ctx lives: a replica that loses it (the API server
// gone past the renew deadline, say) stops writing Events and campaigns again; it never stops serving.
func (s *Source) lead(ctx context.Context) {
	l := s.opts.Leader
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: s.lock, LeaseDuration: l.LeaseDuration, RenewDeadline: l.RenewDeadline, RetryPeriod: l.RetryPeriod,
			ReleaseOnCancel: true, Name: l.Name,
			Callbacks: leaderelection.LeaderCallbacks{OnStartedLeading: s.writer.Start, OnStoppedLeading: func() {}},
		})
		if err != nil { // only invalid timings, which validate rejects
			s.log.Error(err, "leader election")
			return
		}
		le.Run(ctx)
	}
}

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
	default:
		sl, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			return change{}, false
		}
		if prev, ok := old.(*discoveryv1.EndpointSlice); ok && sameSlice(prev, sl) {
			return change{}, false
		}
		return change{kind: k, namespace: sl.Namespace, name: sl.Name, slice: sl, written: writtenAt(sl.ObjectMeta)}, true
	}
}

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
