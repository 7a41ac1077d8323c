package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/kfgate/kfgate/kubeflow"
)

// The permission the notebook helper adds: the metadata of Notebooks (their routing annotations).
//
// +kubebuilder:rbac:groups=kubeflow.org,resources=notebooks,verbs=get;list;watch

// notebookWatch reads Notebooks' annotations (http-rewrite-uri, http-headers-request-set) from a
// metadata-only informer. Notebooks are a CRD that may be missing (no Kubeflow) or unreadable (RBAC),
// so the informer starts only when a notebook's Service exists, the API server serves Notebooks and
// kfgate may list them in every watched namespace. It starts in the background: a pass never waits
// for it (models are annotated meanwhile, and notebooks keep their routes, or get Kubeflow's
// defaults), and the pass after it starts reads the Notebooks. A failure is retried every retry.
type notebookWatch struct {
	mgr        manager.Manager
	namespaces []string
	retry      time.Duration
	trigger    func()
	log        logr.Logger

	mu       sync.Mutex
	gvk      schema.GroupVersionKind // set once the informer runs and has synced
	starting bool
	retrying bool // a pass is scheduled for after the retry period
	lastTry  time.Time
	lastErr  string
}

// annotations returns the annotations of every Notebook, by "namespace/name", or nil when they
// cannot be read (yet).
func (w *notebookWatch) annotations(ctx context.Context) map[string]map[string]string {
	w.mu.Lock()
	gvk := w.gvk
	w.mu.Unlock()
	if gvk.Empty() {
		w.start(ctx)
		return nil
	}
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := w.mgr.GetCache().List(ctx, list); err != nil {
		w.report(fmt.Errorf("listing Notebooks: %w", err))
		return nil
	}
	out := make(map[string]map[string]string, len(list.Items))
	for _, nb := range list.Items {
		out[nb.Namespace+"/"+nb.Name] = nb.Annotations
	}
	return out
}

// start begins, in the background, to run the informer, unless that is under way or failed less
// than a retry ago.
func (w *notebookWatch) start(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.starting || (!w.lastTry.IsZero() && time.Since(w.lastTry) < w.retry) {
		return
	}
	w.starting, w.lastTry = true, time.Now()
	go func() {
		gvk, err := w.run(ctx)
		w.mu.Lock()
		w.starting = false
		if err != nil {
			w.reportLocked(err)
		} else {
			w.gvk, w.lastErr = gvk, ""
			w.log.Info("reading Notebooks' routing annotations", "version", gvk.Version)
		}
		w.mu.Unlock()
		if err == nil {
			w.trigger() // the next pass reads them
		}
	}()
}

// run checks that Notebooks can be read and starts their informer, waiting (bounded) for its first list.
func (w *notebookWatch) run(ctx context.Context) (schema.GroupVersionKind, error) {
	gvk, err := w.check(ctx)
	if err != nil {
		return gvk, err
	}
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(gvk)
	sctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	inf, err := w.mgr.GetCache().GetInformer(sctx, obj)
	if err != nil {
		return gvk, fmt.Errorf("watching Notebooks: %w", err)
	}
	h := toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { w.trigger() },
		UpdateFunc: func(old, cur any) {
			if changed(old, cur) {
				w.trigger()
			}
		},
		DeleteFunc: func(any) { w.trigger() },
	}
	if _, err := inf.AddEventHandler(h); err != nil {
		return gvk, fmt.Errorf("watching Notebooks: %w", err)
	}
	return gvk, nil
}

// check finds the served version of Notebooks and lists them with the API server itself in every
// watched namespace (or the cluster), so that a missing permission is an error now instead of an
// informer that never syncs.
func (w *notebookWatch) check(ctx context.Context) (schema.GroupVersionKind, error) {
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	m, err := w.mgr.GetRESTMapper().RESTMapping(schema.GroupKind{Group: kubeflow.NotebookGroup, Kind: kubeflow.NotebookKind})
	if meta.IsNoMatchError(err) {
		return schema.GroupVersionKind{}, fmt.Errorf("the API server serves no %s.%s (Kubeflow's notebook CRD)", kubeflow.NotebookKind, kubeflow.NotebookGroup)
	}
	if err != nil {
		return schema.GroupVersionKind{}, fmt.Errorf("looking up Notebooks: %w", err)
	}
	namespaces := w.namespaces
	if len(namespaces) == 0 {
		namespaces = []string{""} // the whole cluster
	}
	for _, ns := range namespaces {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(m.GroupVersionKind.GroupVersion().WithKind(kubeflow.NotebookKind + "List"))
		if err := w.mgr.GetAPIReader().List(ctx, list, client.Limit(1), client.InNamespace(ns)); err != nil {
			if apierrors.IsForbidden(err) {
				return schema.GroupVersionKind{}, fmt.Errorf("kfgate may not list Notebooks (RBAC: get, list, watch on notebooks.kubeflow.org): %w", err)
			}
			return schema.GroupVersionKind{}, fmt.Errorf("listing Notebooks: %w", err)
		}
	}
	return m.GroupVersionKind, nil
}

// syncTimeout bounds the wait for the Notebook informer's first list.
const syncTimeout = 30 * time.Second

func (w *notebookWatch) report(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reportLocked(err)
}

// reportLocked logs err unless it is the one logged last.
func (w *notebookWatch) reportLocked(err error) {
	if !w.retrying { // one pass after the retry period tries again, however many failures meanwhile
		w.retrying = true
		time.AfterFunc(w.retry, func() {
			w.mu.Lock()
			w.retrying = false
			w.mu.Unlock()
			w.trigger()
		})
	}
	if err.Error() == w.lastErr {
		return
	}
	w.lastErr = err.Error()
	w.log.Info("notebooks are routed with Kubeflow's defaults: their Notebooks' http-rewrite-uri and http-headers-request-set cannot be read",
		"reason", err.Error(), "retry", w.retry)
}
