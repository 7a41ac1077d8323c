// Command kfgate is the Kubeflow-focused ingress appliance: an annotation-driven Envoy xDS control
// plane (serve), offline tools (render, lint, bootstrap) and the ext_authz OIDC service (authn).
package main

import (
	"errors"
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries an exit status without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	if err := newRootCommand().Execute(); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "kfgate:", err)
		os.Exit(2)
	}
}
