package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kfgate/kfgate/gateway/controlplane"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/gateway/source/kube"
	"github.com/kfgate/kfgate/kubeflow"
	"github.com/kfgate/kfgate/kubeflow/controller"
)

// inClusterNamespace is where Kubernetes tells a pod its namespace.
const inClusterNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// runKube runs the Kubernetes source until ctx ends.
func runKube(ctx context.Context, cfg serveConfig, runner *controlplane.Runner, reg prometheus.Registerer, log logr.Logger) error {
	opts, err := cfg.kubeOptions(reg, log)
	if err != nil {
		return err
	}
	klog.SetLogger(log.WithName("client-go")) // client-go (leader election, reflectors) logs through klog
	ctrllog.SetLogger(log.WithName("controller-runtime"))
	src, err := kube.New(opts, runner)
	if err != nil {
		return err
	}
	return src.Run(ctx)
}

func (c serveConfig) kubeOptions(reg prometheus.Registerer, log logr.Logger) (kube.Options, error) {
	rc, err := restConfig(c.Kubeconfig)
	if err != nil {
		return kube.Options{}, err
	}
	rc.UserAgent = "kfgate/" + version
	le := kube.DefaultLeaderElection
	le.Disabled = !c.LeaderElection
	le.LeaseDuration, le.RenewDeadline, le.RetryPeriod = c.LeaseDuration, c.RenewDeadline, c.RetryPeriod
	le.Name = c.leaseName()
	if le.Namespace = c.LeaderElectionNamespace; le.Namespace == "" {
		le.Namespace = ownNamespace()
	}
	if le.Namespace == "" && !le.Disabled {
		return kube.Options{}, errors.New("--leader-election-namespace is required outside a cluster (or set POD_NAMESPACE)")
	}
	if le.Identity, err = identity(); err != nil {
		return kube.Options{}, err
	}
	o := kube.Options{Config: rc, Namespaces: c.WatchNamespaces, Leader: le, Component: "kfgate",
		Debounce: source.Debounce{Holdoff: c.Holdoff, Max: c.MaxHoldoff}, Logger: log.WithName("kube"), Registry: reg}
	if c.KubeflowModels || c.KubeflowNotebooks {
		tmpl, err := kubeflow.ParseTemplate(c.ModelPathTemplate)
		if err != nil {
			return kube.Options{}, fmt.Errorf("--model-path-template: %w", err)
		}
		o.Pods = c.KubeflowModels
		if c.KubeflowNotebooks {
			o.KeepMetadataAnnotation = kubeflow.IsNotebookAnnotation
		}
		o.Extensions = append(o.Extensions, controller.New(controller.Options{Models: c.KubeflowModels, Notebooks: c.KubeflowNotebooks,
			Template: tmpl, ID: c.ID, Namespaces: c.WatchNamespaces, Log: log.WithName("kubeflow")}))
	}
	return o, nil
}

// restConfig is --kubeconfig when given, else the in-cluster configuration, else the usual
// kubeconfig search ($KUBECONFIG, ~/.kube/config).
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		if rc, err := rest.InClusterConfig(); err == nil {
			return rc, nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes client configuration: %w", err)
	}
	return rc, nil
}

func ownNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	b, err := os.ReadFile(inClusterNamespace)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// identity names this replica in the Lease: the pod (hostname) plus a random suffix, so that a
// restarted pod never inherits its predecessor's leadership.
func identity() (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("hostname for the leader election identity: %w", err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return host + "_" + hex.EncodeToString(b), nil
}
