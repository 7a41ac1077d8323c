package e2e

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/kfgate/kfgate/test/testproc"
)

// waitFor bounds every wait of the suite on a condition.
const waitFor = 30 * time.Second

// need skips the test when a component is missing, and fails it under CI, where the project's
// scripts (make test-deps) must have installed everything.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing: run `make test-deps`", what)
	}
	t.Skipf("%s is missing: run `make e2e` (it installs the test dependencies)", what)
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	port, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// startProcess runs a command until the test ends (SIGTERM, then SIGKILL after 10 s); its output
// is logged when the test fails, or always with KFGATE_E2E_LOG set.
func startProcess(t *testing.T, name string, args ...string) {
	t.Helper()
	out := &testproc.Buffer{}
	cmd := exec.Command(name, args...) //nolint:gosec // the suite's own binaries
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() || os.Getenv("KFGATE_E2E_LOG") != "" {
			t.Logf("output of %s %v:\n%s", name, args, out.String())
		}
	})
}

// eventually polls cond until it holds, for at most waitFor.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %s", what, last)
		case <-tick.C:
		}
	}
}

// waitHealthy waits until url answers 200.
func waitHealthy(t *testing.T, what, url string) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	eventually(t, what, func() (bool, string) {
		resp, err := c.Get(url)
		if err != nil {
			return false, err.Error()
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
}
