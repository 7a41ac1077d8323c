package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "kfgate",
		Short: "Kubeflow-focused ingress: an annotation-driven Envoy xDS control plane",
		Long: `kfgate turns Ambassador-style annotations (getambassador.io/config, kfgate.io/config) on
Kubernetes Services into Envoy configuration and serves it over ADS.

  kfgate serve --source file:examples/      the control plane over a directory of YAML files
  kfgate render -f examples/                 print the Envoy resources a directory becomes
  kfgate lint -f examples/                   report every problem in the annotations
  kfgate bootstrap --xds-address HOST:PORT   an Envoy bootstrap pointing at kfgate
  kfgate authn --config authn.yaml           the ext_authz service: OIDC login, sessions, bearer tokens`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCommand(), newRenderCommand(), newLintCommand(), newBootstrapCommand(), newAuthnCommand(), newKubeflowCommand(), newVersionCommand())
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print kfgate's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "kfgate", version)
			return err
		},
	}
}
