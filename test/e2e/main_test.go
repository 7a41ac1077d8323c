package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kfgate/kfgate/test/apiserver"
)

var (
	// kfgateBin is the kfgate binary TestMain built.
	kfgateBin string
	// kube is the shared API server; nil without KUBEBUILDER_ASSETS (the suite then skips).
	kube    *envtest.Environment
	kubeCfg *rest.Config
)

// TestMain builds kfgate once and starts the API server the suite shares.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctrllog.SetLogger(logr.Discard())
	klog.SetLogger(logr.Discard())
	dir, err := os.MkdirTemp("", "kfgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	kfgateBin = filepath.Join(dir, "kfgate")
	build := exec.Command("go", "build", "-o", kfgateBin, "github.com/kfgate/kfgate/cmd/kfgate")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building kfgate:", err)
		return 1
	}
	if !apiserver.Available() {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: the end-to-end suite skips (run `make e2e`)")
		return m.Run()
	}
	kube = &envtest.Environment{}
	if kubeCfg, err = kube.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() {
		if err := kube.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}()
	return m.Run()
}
