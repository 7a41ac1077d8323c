// Package kube is the Kubernetes source: it watches Services, EndpointSlices and kubernetes.io/tls
// Secrets (cut down to their certificate, key and CA bundle) through controller-runtime's
// informers, feeds their changes to the control plane's Engine after a short
// debounce, and tells the authors of broken annotations through Events on their Services (written by
// the leader only; every replica watches and serves xDS).
package kube

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"

	"github.com/kfgate/kfgate/gateway/source"
)

// Options configure the Kubernetes source.
type Options struct {
	Config     *rest.Config
	Namespaces []string // watched namespaces; empty means all
	Debounce   source.Debounce
	Leader     LeaderElection
	// Component names kfgate in the Events it writes (reportingController).
	Component string
	Logger    logr.Logger
	Registry  prometheus.Registerer
	// CompactFrom: once the Services have peaked at this many or more and then halved, the Engine is
	// replaced by a fresh copy of itself (controlplane.Runner.Compact), so that memory sized for the
	// peak is given back. 0 means DefaultCompactFrom.
	CompactFrom int
	// Pods adds a Pod informer (pods cut down to what the model-server helper reads) for extensions.
	Pods bool
	// KeepMetadataAnnotation, when set, is the annotations that metadata-only objects an extension
	// watches (metav1.PartialObjectMetadata: the Kubeflow helper's Notebooks) keep in the cache; all
	// their other annotations, labels, owners and field ownership are dropped as they arrive.
	KeepMetadataAnnotation func(key string) bool
	// Extensions run on the Source's manager: the Kubeflow model-server annotator is one.
	Extensions []Extension
}

// Extension is a controller that shares the Source's manager and caches and writes only while its
// replica holds the Lease (every replica when leader election is disabled).
type Extension interface {
	// Setup registers informers and handlers; it runs before the manager starts.
	Setup(mgr manager.Manager) error
	// Lead runs while this replica leads, until ctx ends.
	Lead(ctx context.Context)
}

// DefaultCompactFrom is the peak below which a scale-down is not worth compacting the Engine.
const DefaultCompactFrom = 1000

// LeaderElection configures the Lease that decides which replica writes Events.
type LeaderElection struct {
	Disabled      bool // every replica writes Events: for a single replica only
	Namespace     string
	Name          string // the Lease's name
	Identity      string // this replica, unique among them
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
}

// DefaultLeaderElection has client-go's usual timings.
var DefaultLeaderElection = LeaderElection{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}

func (o Options) validate() error {
	var errs []error
	if o.Config == nil {
		errs = append(errs, errors.New("no Kubernetes client configuration"))
	}
	if o.Debounce.Holdoff <= 0 || o.Debounce.Max < o.Debounce.Holdoff {
		errs = append(errs, fmt.Errorf("debounce %s/%s: want 0 < holdoff <= max", o.Debounce.Holdoff, o.Debounce.Max))
	}
	if l := o.Leader; !l.Disabled {
		if l.Namespace == "" || l.Name == "" || l.Identity == "" {
			errs = append(errs, errors.New("leader election needs a namespace, a Lease name and an identity"))
		}
		if l.RetryPeriod <= 0 || l.RenewDeadline <= l.RetryPeriod || l.LeaseDuration <= l.RenewDeadline {
			errs = append(errs, fmt.Errorf("leader election timings %s/%s/%s: want 0 < retry-period < renew-deadline < lease-duration",
				l.RetryPeriod, l.RenewDeadline, l.LeaseDuration))
		}
	}
	if o.Component == "" {
		errs = append(errs, errors.New("no component name for Events"))
	}
	return errors.Join(errs...)
}
