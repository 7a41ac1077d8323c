package controlplane

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfgate/kfgate/gateway/build"
	"github.com/kfgate/kfgate/gateway/diagnostics"
	"github.com/kfgate/kfgate/gateway/server"
	"github.com/kfgate/kfgate/gateway/source"
)

const svcTemplate = `apiVersion: v1
kind: Service
metadata:
  name: app
  namespace: default
  annotations:
    getambassador.io/config: |
      apiVersion: ambassador/v0
      kind: Mapping
      name: app
      prefix: PREFIX
      service: app
spec:
  ports:
  - port: 80
`

// TestWatchPublishKeepLastGood drives the standalone mode end to end: a directory watched with
// fsnotify, rebuilt on change, published to the xDS server; a broken edit keeps the last valid
// version serving and says so.
func TestWatchPublishKeepLastGood(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "app.yaml")
	write := func(prefix string) {
		t.Helper()
		writeAtomically(t, file, strings.Replace(svcTemplate, "PREFIX", prefix, 1))
	}
	write("/one/")
	reg := prometheus.NewRegistry()
	srv := server.New(server.Options{Registry: reg})
	diag := diagnostics.New(reg, srv.Ready)
	r := New(build.Options{}, srv, diag, reg, logr.Discard())
	applied := make(chan struct{}, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- source.WatchDir(ctx, dir, source.DefaultDebounce, logr.Discard(), func(o source.Objects) {
			if err := r.Apply(ctx, o); err != nil {
				t.Errorf("apply: %v", err)
			}
			applied <- struct{}{}
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	wait := func() *diagnostics.State {
		t.Helper()
		select {
		case <-applied:
		case <-time.After(10 * time.Second):
			t.Fatal("no rebuild after a change")
		}
		return stateOf(t, diag)
	}

	first := wait()
	if !srv.Ready() || first.Version == "" || !routed(first, "prefix /one/") {
		t.Fatalf("initial build not served: %+v", first)
	}
	write("/two/")
	second := wait()
	if second.Version == first.Version || !routed(second, "prefix /two/") {
		t.Fatalf("change not published: version %s → %s", first.Version, second.Version)
	}
	write("no-slash")
	third := wait()
	if third.Version != second.Version || !routed(third, "prefix /two/") {
		t.Fatalf("broken edit changed what is served: %s → %s", second.Version, third.Version)
	}
	if !hasDiag(third, "StaleConfig") || !hasDiag(third, "InvalidMapping") {
		t.Fatalf("broken edit not reported: %+v", third.Report.Objects)
	}
}

func stateOf(t *testing.T, d *diagnostics.Server) *diagnostics.State {
	t.Helper()
	st := d.State()
	if st == nil || st.Report == nil {
		t.Fatal("no diagnostics state")
	}
	return st
}

func routed(st *diagnostics.State, match string) bool {
	for _, o := range st.Report.Objects {
		for _, d := range o.Documents {
			for _, r := range d.Routes {
				if r.Match == match {
					return true
				}
			}
		}
	}
	return false
}

func hasDiag(st *diagnostics.State, reason string) bool {
	for _, o := range st.Report.Objects {
		for _, d := range o.Diagnostics {
			if d.Reason == reason {
				return true
			}
		}
	}
	return false
}

// writeAtomically replaces a file in one rename, so the watcher never reads it half-written.
func writeAtomically(t *testing.T, file, content string) {
	t.Helper()
	tmp := filepath.Join(t.TempDir(), filepath.Base(file))
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}
