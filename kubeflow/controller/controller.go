// Package controller is the Kubeflow annotator: on the leader replica of
// `kfgate serve --source kubernetes`, it recognises model servers and notebooks' Services among the
// Services (package kubeflow, pure), and writes each one's Mappings into the annotation kfgate.io/generated-config with
// server-side apply under its own field manager, so that no other annotation of the Service is ever
// touched. The control plane then reads that annotation like any other.
package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/kubeflow"
)

// The permissions the annotator adds to the control plane's (kustomize/base/controlplane/rbac.yaml).
//
// +kubebuilder:rbac:groups="",resources=services,verbs=patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch

// FieldManager owns the generated annotation; nothing else of a Service is applied by it.
const FieldManager = "kfgate-kubeflow"

// Options configure the annotator.
type Options struct {
	// Models annotates model servers (TF Serving, KServe); Notebooks, Kubeflow notebooks' Services.
	Models, Notebooks bool
	Template          kubeflow.Template
	ID                string // ambassador_id of the installation
	Log               logr.Logger
	// Holdoff batches bursts of changes into one pass.
	Holdoff time.Duration
	// Namespaces are the watched namespaces (empty: all), where Notebooks are read.
	Namespaces []string
	// NotebookRetry is how often reading Notebooks is retried while it fails (no CRD, no RBAC).
	NotebookRetry time.Duration
}

// Controller is a kube.Extension.
type Controller struct {
	o    Options
	c    client.Client
	rec  events.EventRecorder
	poke chan struct{}
	// leading is held for a whole term: a term that starts while the last one is still ending (the
	// Lease lost and won back within a retry period) waits for it.
	leading sync.Mutex
	mu      sync.Mutex
	warned  map[string]string // Service key → the last Warning note posted
	// released holds the Services whose annotation the annotator gave up this run: a user who wrote
	// the annotation themselves keeps it, and is not re-applied to on every pass.
	released map[string]bool
	// conflicted holds, per Service, the text another field manager's ownership refused.
	conflicted map[string]string
	nb         *notebookWatch
}

// New returns an annotator; Setup and Lead are called by the Kubernetes source.
func New(o Options) *Controller {
	if o.Holdoff <= 0 {
		o.Holdoff = 100 * time.Millisecond
	}
	if o.NotebookRetry <= 0 {
		o.NotebookRetry = time.Minute
	}
	return &Controller{o: o, poke: make(chan struct{}, 1), warned: map[string]string{}, released: map[string]bool{}, conflicted: map[string]string{}}
}

// Setup registers for Service and Pod changes on the shared caches.
func (c *Controller) Setup(mgr manager.Manager) error {
	c.c = mgr.GetClient()
	c.rec = mgr.GetEventRecorder(FieldManager)
	c.nb = &notebookWatch{mgr: mgr, namespaces: c.o.Namespaces, retry: c.o.NotebookRetry, trigger: c.trigger, log: c.o.Log}
	h := toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.trigger() },
		UpdateFunc: func(old, cur any) {
			if changed(old, cur) {
				c.trigger()
			}
		},
		DeleteFunc: func(any) { c.trigger() },
	}
	objs := []client.Object{&corev1.Service{}}
	if c.o.Models {
		objs = append(objs, &corev1.Pod{})
	}
	for _, obj := range objs {
		inf, err := mgr.GetCache().GetInformer(context.Background(), obj)
		if err != nil {
			return fmt.Errorf("informer for %T: %w", obj, err)
		}
		if _, err := inf.AddEventHandler(h); err != nil {
			return err
		}
	}
	return nil
}

func (c *Controller) trigger() {
	select {
	case c.poke <- struct{}{}:
	default:
	}
}

// Lead reconciles every model and notebook Service now and after every change, until ctx ends.
func (c *Controller) Lead(ctx context.Context) {
	c.leading.Lock()
	defer c.leading.Unlock()
	c.mu.Lock()
	// What another leader did meanwhile is unknown: start from what the Services say.
	c.warned, c.released, c.conflicted = map[string]string{}, map[string]bool{}, map[string]string{}
	c.mu.Unlock()
	c.o.Log.Info("annotating Kubeflow's Services", "models", c.o.Models, "notebooks", c.o.Notebooks, "template", c.o.Template.String())
	c.trigger()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.poke:
		}
		select { // let a burst settle
		case <-ctx.Done():
			return
		case <-time.After(c.o.Holdoff):
		}
		if err := c.Reconcile(ctx); err != nil && ctx.Err() == nil {
			c.o.Log.Error(err, "annotating Kubeflow's Services; retrying")
			time.AfterFunc(time.Second, c.trigger)
		}
	}
}

// Reconcile makes every Service's generated annotation what its recognition says.
func (c *Controller) Reconcile(ctx context.Context) error {
	var svcs corev1.ServiceList
	if err := c.c.List(ctx, &svcs); err != nil {
		return err
	}
	var pods corev1.PodList
	if c.o.Models {
		if err := c.c.List(ctx, &pods); err != nil {
			return err
		}
	}
	var notebooks map[string]map[string]string
	if c.o.Notebooks && hasNotebook(svcs.Items) {
		notebooks = c.nb.annotations(ctx)
	}
	want, notes := plan(svcs.Items, byNamespace(pods.Items), notebooks, c.o)
	var errs []error
	seen := map[string]bool{}
	for i := range svcs.Items {
		svc := &svcs.Items[i]
		key := svc.Namespace + "/" + svc.Name
		seen[key] = true
		if svc.DeletionTimestamp != nil || ctx.Err() != nil {
			continue
		}
		n, err := c.converge(ctx, svc, key, want[key])
		errs = append(errs, err)
		if n.text == "" {
			n = notes[key]
		}
		c.warn(svc, key, n)
	}
	c.forget(seen)
	return errors.Join(errs...)
}

// converge applies the annotation when it differs, and gives it up when it is no longer wanted.
// Ownership is never forced: an annotation another field manager holds (a hand-written one, or
// GitOps applying `kfgate kubeflow annotate` output) is left to it, and the Service is told.
func (c *Controller) converge(ctx context.Context, svc *corev1.Service, key, want string) (note, error) {
	cur, has := svc.Annotations[mapping.AnnotationGenerated]
	switch {
	case want != "" && cur == want:
		return note{}, nil
	case want == "" && (!has || c.isReleased(key)):
		return note{}, nil
	case want != "" && c.conflictedOn(key) == want:
		return note{}, nil // another writer holds it; tried with this text already
	}
	ac := corev1ac.Service(svc.Name, svc.Namespace)
	if want != "" {
		ac = ac.WithAnnotations(map[string]string{mapping.AnnotationGenerated: want})
	}
	// Applying without the annotation removes it only if this manager owns it.
	err := c.c.Apply(ctx, ac, client.FieldOwner(FieldManager))
	switch {
	case apierrors.IsConflict(err):
		c.setConflicted(key, want)
		reason := kubeflow.ReasonConflict
		if kubeflow.IsNotebookService(svc) {
			reason = kubeflow.ReasonNotebookConflict
		}
		return note{reason, "kfgate.io/generated-config is managed by another writer (" + conflictManagers(err) +
			"); kfgate leaves it as it is. Remove it, or let kfgate own it, for kfgate to keep it up to date."}, nil
	case err != nil:
		return note{}, fmt.Errorf("applying %s: %w", key, err)
	}
	c.setReleased(key, want == "")
	c.setConflicted(key, "")
	c.o.Log.V(1).Info("generated annotation applied", "service", key, "removed", want == "")
	return note{}, nil
}

// conflictManagers names who holds the field, from the API server's conflict message.
func conflictManagers(err error) string {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		if d := st.Status().Details; d != nil && len(d.Causes) > 0 {
			return d.Causes[0].Message
		}
	}
	return "a conflict"
}

// forget drops what is remembered of Services that no longer exist.
func (c *Controller) forget(seen map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.warned {
		if !seen[k] {
			delete(c.warned, k)
		}
	}
	for k := range c.released {
		if !seen[k] {
			delete(c.released, k)
		}
	}
	for k := range c.conflicted {
		if !seen[k] {
			delete(c.conflicted, k)
		}
	}
}

func (c *Controller) conflictedOn(key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conflicted[key]
}

func (c *Controller) setConflicted(key, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if text == "" {
		delete(c.conflicted, key)
	} else {
		c.conflicted[key] = text
	}
}

func (c *Controller) isReleased(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.released[key]
}

func (c *Controller) setReleased(key string, v bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v {
		c.released[key] = true
	} else {
		delete(c.released, key)
	}
}

// warn posts a Warning Event when a Service's note changes (a conflict, an invalid setting).
func (c *Controller) warn(svc *corev1.Service, key string, n note) {
	c.mu.Lock()
	last := c.warned[key]
	if n.text == last {
		c.mu.Unlock()
		return
	}
	if n.text == "" {
		delete(c.warned, key)
	} else {
		c.warned[key] = n.text
	}
	c.mu.Unlock()
	if n.text != "" && c.rec != nil {
		c.rec.Eventf(svc, nil, corev1.EventTypeWarning, n.reason, "Annotate", "%s", n.text)
	}
}
