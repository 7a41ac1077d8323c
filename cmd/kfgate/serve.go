package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/kfgate/kfgate/gateway/build"
	"github.com/kfgate/kfgate/gateway/controlplane"
	"github.com/kfgate/kfgate/gateway/diagnostics"
	"github.com/kfgate/kfgate/gateway/server"
	"github.com/kfgate/kfgate/gateway/source"
)

func newServeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve --source file:DIR|kubernetes",
		Short: "Run the xDS control plane",
		Long: `serve runs the control plane: it reads the configuration source, serves Envoy over ADS (State of
the World and Delta) and serves the diagnostics page.

Sources:
  file:DIR     Services with kfgate annotations, EndpointSlices, Secrets and bare documents in DIR's
               YAML files, and certificates as NAME.crt + NAME.key (+ NAME.ca.crt) PEM files (the
               Secret NAME in namespace default), watched for changes (a broken file keeps its last
               valid version serving)
  kubernetes   Services (all namespaces, or --watch-namespaces), their EndpointSlices and the
               kubernetes.io/tls Secrets that TLSContexts name, watched
               through the API server (in-cluster, or --kubeconfig). Errors in a Service's annotations
               become Warning Events on it, a fix a Normal Event; with --leader-election (default),
               only the replica holding the Lease kfgate-<id> writes Events, and every replica serves
               xDS. The first snapshot waits for the caches to sync; if the API server goes away, the
               last snapshot keeps serving. The Kubeflow helpers (--kubeflow-models,
               --kubeflow-notebooks) also read Pods and Notebooks' metadata, and write only the
               annotation kfgate.io/generated-config of model and notebook Services.

TLS: a TLSContext adds an HTTPS listener (--https-port) with one SNI filter chain per TLSContext;
certificates reach Envoy over SDS on the same ADS stream, so a renewed Secret is swapped in without a
listener drain. Secret contents never appear in logs, diagnostics or render.

Every flag can also be set as KFGATE_<FLAG> in the environment (KFGATE_XDS_ADDRESS, ...) or in the
file given by --config (YAML, keys named like the flags; unknown keys are rejected).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadServeConfig(cmd)
			if err != nil {
				return err
			}
			return serve(cmd, cfg)
		},
	}
	registerServeFlags(cmd)
	return cmd
}

func serve(cmd *cobra.Command, cfg serveConfig) error {
	log, err := newLogger(cfg.LogLevel)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	xdsServer := server.New(server.Options{Logger: log.WithName("xds"), Registry: reg})
	diag := diagnostics.New(reg, xdsServer.Ready)
	runner := controlplane.New(build.Options{ID: cfg.ID, ListenerPort: cfg.ListenerPort, HTTPSPort: cfg.HTTPSPort, ClusterDomain: cfg.ClusterDomain,
		TrustedNamespaces: cfg.TrustedNamespaces, TenantPaths: cfg.tenantPaths()},
		xdsServer, diag, reg, log.WithName("build"))

	xdsLis, err := net.Listen("tcp", cfg.XDSAddress)
	if err != nil {
		return fmt.Errorf("xDS address: %w", err)
	}
	diagLis, err := net.Listen("tcp", cfg.DiagnosticsAddress)
	if err != nil {
		_ = xdsLis.Close() // best effort; we are failing anyway
		return fmt.Errorf("diagnostics address: %w", err)
	}
	printBanner(cmd, cfg, xdsLis.Addr(), diagLis.Addr())

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return xdsServer.Serve(ctx, xdsLis) })
	g.Go(func() error { return serveHTTP(ctx, diagLis, diag.Handler()) })
	g.Go(func() error {
		if cfg.Source == "kubernetes" {
			return runKube(ctx, cfg, runner, reg, log)
		}
		return source.WatchDir(ctx, cfg.dir(), source.Debounce{Holdoff: cfg.Holdoff, Max: cfg.MaxHoldoff}, log.WithName("source"),
			func(objs source.Objects) { _ = runner.Apply(ctx, objs) }) // failures are logged and shown by the runner
	})
	return g.Wait()
}

func printBanner(cmd *cobra.Command, cfg serveConfig, xdsAddr, diagAddr net.Addr) {
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, "kfgate %s: serving %s\n", version, cfg.Source)
	fmt.Fprintf(w, "  xDS (ADS, gRPC):  %s\n", xdsAddr)
	fmt.Fprintf(w, "  diagnostics:      http://%s/\n", displayAddr(diagAddr))
	fmt.Fprintf(w, "  point an Envoy at it:\n    kfgate bootstrap --xds-address %s > envoy.yaml && envoy -c envoy.yaml\n", displayAddr(xdsAddr))
	fmt.Fprintf(w, "  Envoy's HTTP listener will be on port %d (HTTPS, when a TLSContext serves hosts, on %d)\n", cfg.ListenerPort, cfg.HTTPSPort)
}

func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func serveHTTP(ctx context.Context, lis net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx) // bounded; the process is exiting
	}()
	if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (c serveConfig) dir() string { return strings.TrimPrefix(c.Source, "file:") }
