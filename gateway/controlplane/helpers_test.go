package controlplane

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kfgate/kfgate/gateway/diagnostics"
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
