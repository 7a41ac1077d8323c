// Package apiserver runs a real Kubernetes API server for tests: envtest's kube-apiserver and etcd,
// built from the Go module proxy by test/envtest/assets.sh and found through KUBEBUILDER_ASSETS,
// which `make test` sets. Without them, the tests that need one skip; under CI they fail instead.
package apiserver

import (
	"fmt"
	"os"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

const missing = "KUBEBUILDER_ASSETS is not set: run the tests through `make test`"

// Available reports whether the binaries are there. Under CI their absence is a failure: Available
// then prints why and exits the test binary with status 1.
func Available() bool {
	if os.Getenv("KUBEBUILDER_ASSETS") != "" {
		return true
	}
	if os.Getenv("CI") != "" {
		fmt.Fprintln(os.Stderr, missing)
		os.Exit(1)
	}
	return false
}

// Main is a TestMain sharing one API server among a package's tests. configure (may be nil) adjusts
// the environment before it starts; ready gets it once it runs. Without the binaries the tests run
// without it (ready is not called, and the tests that need it skip). The loggers of client-go and
// controller-runtime are silenced: the tests log through their own.
func Main(m *testing.M, configure func(*envtest.Environment), ready func(*envtest.Environment, *rest.Config)) {
	os.Exit(Run(m, configure, ready))
}

// Run is Main returning the exit status, for a TestMain with cleanups of its own to run after it.
func Run(m *testing.M, configure func(*envtest.Environment), ready func(*envtest.Environment, *rest.Config)) int {
	ctrllog.SetLogger(logr.Discard())
	klog.SetLogger(logr.Discard())
	if !Available() {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: the envtest tests skip (run `make test`)")
		return m.Run()
	}
	env := &envtest.Environment{}
	if configure != nil {
		configure(env)
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	ready(env, cfg)
	code := m.Run()
	// Stop sends SIGTERM, then SIGKILL after the stop timeout.
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
	}
	return code
}

// Start runs an API server of a test's own, stopped when the test ends; without the binaries the
// test skips (fails under CI).
func Start(t testing.TB) (*envtest.Environment, *rest.Config) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(missing)
		}
		t.Skip("KUBEBUILDER_ASSETS is not set: run `make test`")
	}
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	return env, cfg
}
