package main

import "github.com/spf13/cobra"

func newServeCommand() *cobra.Command {
	return &cobra.Command{Use: "serve", Short: "Serve xDS (work in progress)"}
}
