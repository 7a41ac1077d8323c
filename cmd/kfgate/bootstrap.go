package main

import (
	"github.com/spf13/cobra"

	"github.com/kfgate/kfgate/gateway/xds"
)

func newBootstrapCommand() *cobra.Command {
	var opts xds.BootstrapOptions
	var output string
	cmd := &cobra.Command{
		Use:   "bootstrap --xds-address HOST:PORT [--node-id ID]",
		Short: "Print an Envoy bootstrap that fetches everything from kfgate over ADS",
		Long: `bootstrap prints an Envoy v3 bootstrap: ADS over gRPC to kfgate, listeners and clusters from LDS and
CDS over that stream, and the admin interface on 127.0.0.1:9901. Start Envoy with
  envoy -c bootstrap.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := xds.Bootstrap(opts, output)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&opts.XDSAddress, "xds-address", "", "kfgate's xDS address, HOST:PORT")
	cmd.Flags().StringVar(&opts.NodeID, "node-id", "envoy", "Envoy node id")
	cmd.Flags().StringVar(&opts.Cluster, "node-cluster", "kfgate", "Envoy node cluster")
	cmd.Flags().Uint32Var(&opts.AdminPort, "admin-port", 9901, "port of Envoy's admin interface on 127.0.0.1")
	cmd.Flags().Uint32Var(&opts.RegexMaxSize, "regex-max-size", 200, "Envoy's RE2 program size limit; at least the Module's regex_max_size")
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	_ = cmd.MarkFlagRequired("xds-address") // cannot fail: the flag was just defined
	return cmd
}
