package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kfgate/kfgate/gateway/build"
	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/kubeflow"
)

// offlineFlags are shared by render and lint.
type offlineFlags struct {
	paths         []string
	id            string
	listenerPort  uint32
	httpsPort     uint32
	clusterDomain string
	trusted       []string
	tenantPaths   []string
	modelTemplate string
}

func (f *offlineFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringSliceVarP(&f.paths, "filename", "f", nil, "YAML file or directory (repeatable)")
	cmd.Flags().StringVar(&f.id, "id", "default", "ambassador_id of this installation: documents owned by another id are ignored")
	cmd.Flags().Uint32Var(&f.listenerPort, "listener-port", 8080, "port of Envoy's HTTP listener")
	cmd.Flags().Uint32Var(&f.httpsPort, "https-port", 8443, "port of Envoy's HTTPS listener (when a TLSContext serves hosts)")
	cmd.Flags().StringVar(&f.clusterDomain, "cluster-domain", "cluster.local", "Kubernetes cluster DNS domain")
	cmd.Flags().StringSliceVar(&f.trusted, "trusted-namespaces", nil, trustedHelp)
	cmd.Flags().StringSliceVar(&f.tenantPaths, "tenant-paths", nil, tenantPathsHelp)
	cmd.Flags().StringVar(&f.modelTemplate, "model-path-template", kubeflow.DefaultTemplate, "with --trusted-namespaces: serve's model path template, whose space tenants' generated models are in")
	_ = cmd.MarkFlagRequired("filename") // cannot fail: the flag was just defined
}

func (f *offlineFlags) build() (*build.Result, error) {
	if err := errors.Join(append(namespaceNames("--trusted-namespaces", f.trusted), tenantPathErrors(f.tenantPaths)...)...); err != nil {
		return nil, err
	}
	if _, err := kubeflow.ParseTemplate(f.modelTemplate); err != nil {
		return nil, fmt.Errorf("--model-path-template: %w", err)
	}
	objs, err := source.LoadPaths(f.paths...)
	if err != nil {
		return nil, err
	}
	b := build.NewBuilder(build.Options{ID: f.id, ListenerPort: f.listenerPort, HTTPSPort: f.httpsPort, ClusterDomain: f.clusterDomain,
		TrustedNamespaces: f.trusted, TenantPaths: tenantPaths(f.tenantPaths, f.modelTemplate)})
	return b.Build(objs)
}

func newRenderCommand() *cobra.Command {
	var f offlineFlags
	var output string
	cmd := &cobra.Command{
		Use:   "render -f PATH [-o yaml|json]",
		Short: "Print the Envoy resources (listeners, routes, clusters, endpoints, secrets) that the files become",
		Long: `render reads Services with kfgate annotations, bare kfgate documents, Secrets and PEM files
(NAME.crt, NAME.key) from files and prints ONE document with five keys, listeners, routes, clusters,
endpoints and secrets, each a list of Envoy v3 resources in protojson form. A secret is shown as a
reference: its certificate by size and SHA-256, its private key only as "[redacted: N bytes]".
Diagnostics go to stderr. Exit status 1 if any document was rejected.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := f.build()
			if err != nil {
				return err
			}
			out, err := res.Resources.Render(output)
			if err != nil {
				return err
			}
			if _, err := cmd.OutOrStdout().Write(out); err != nil {
				return err
			}
			printDiagnostics(cmd.ErrOrStderr(), res.Diagnostics)
			return exitFor(res.Diagnostics)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	return cmd
}

func newLintCommand() *cobra.Command {
	var f offlineFlags
	cmd := &cobra.Command{
		Use:   "lint -f PATH",
		Short: "Report every problem in the files' kfgate documents, one per line",
		Long: `lint prints one line per diagnostic: file:line, object, document, field path, severity and message.
Exit status 1 if any diagnostic is an error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := f.build()
			if err != nil {
				return err
			}
			printDiagnostics(cmd.OutOrStdout(), res.Diagnostics)
			return exitFor(res.Diagnostics)
		},
	}
	f.register(cmd)
	return cmd
}

func printDiagnostics(w io.Writer, ds []mapping.Diagnostic) {
	for _, d := range ds {
		fmt.Fprintln(w, d.String())
	}
}

func exitFor(ds []mapping.Diagnostic) error {
	if mapping.HasErrors(ds) {
		return exitError{code: 1}
	}
	return nil
}
