package kube

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/kubernetes"
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
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=kfgate

// Source watches Services, EndpointSlices and kubernetes.io/tls Secrets and drives a Runner with
// their changes.
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
	for _, e := range opts.Extensions {
		if err := e.Setup(mgr); err != nil {
			return nil, fmt.Errorf("setting up an extension: %w", err)
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
	// RBAC cannot narrow a Secret grant by type, so the watch does: the API server sends only
	// kubernetes.io/tls Secrets (what a TLSContext may name), and of those only the certificate, key
	// and CA bundle enter the cache.
	copts := cache.Options{Scheme: scheme, ByObject: map[client.Object]cache.ByObject{
		&corev1.Service{}:            {Transform: stripService},
		&discoveryv1.EndpointSlice{}: {Label: labels.NewSelector().Add(*owned), Transform: stripSlice},
		&corev1.Secret{}:             {Field: fields.OneTermEqualSelector("type", string(corev1.SecretTypeTLS)), Transform: stripSecret},
	}}
	if opts.Pods {
		copts.ByObject[&corev1.Pod{}] = cache.ByObject{Transform: stripPod}
	}
	if opts.KeepMetadataAnnotation != nil {
		// Kinds an extension watches that may not exist when kfgate starts (a CRD's) cannot have a
		// ByObject entry, which needs their REST mapping now.
		copts.DefaultTransform = stripMetadataOnly(opts.KeepMetadataAnnotation)
	}
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
	for _, k := range kinds {
		inf, err := s.mgr.GetCache().GetInformer(ctx, k.object(), cache.BlockUntilSynced(false))
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
			s.startLeading(ctx)
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
			Callbacks: leaderelection.LeaderCallbacks{OnStartedLeading: s.startLeading, OnStoppedLeading: func() {}},
		})
		if err != nil { // only invalid timings, which validate rejects
			s.log.Error(err, "leader election")
			return
		}
		le.Run(ctx)
	}
}

// startLeading starts what only the leader does: the Event writer and the extensions. ctx ends when
// the Lease is lost.
func (s *Source) startLeading(ctx context.Context) {
	for _, e := range s.opts.Extensions {
		go e.Lead(ctx)
	}
	s.writer.Start(ctx)
}
