package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

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
	return apiserver.Run(m, nil, func(env *envtest.Environment, cfg *rest.Config) { kube, kubeCfg = env, cfg })
}
