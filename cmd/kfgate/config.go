package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// serveConfig is serve's configuration, from flags, KFGATE_* environment variables and --config.
type serveConfig struct {
	Source             string        `mapstructure:"source"`
	XDSAddress         string        `mapstructure:"xds-address"`
	DiagnosticsAddress string        `mapstructure:"diagnostics-address"`
	ListenerPort       uint32        `mapstructure:"listener-port"`
	ID                 string        `mapstructure:"id"`
	ClusterDomain      string        `mapstructure:"cluster-domain"`
	Holdoff            time.Duration `mapstructure:"holdoff"`
	MaxHoldoff         time.Duration `mapstructure:"max-holdoff"`
	LogLevel           string        `mapstructure:"log-level"`
	Config             string        `mapstructure:"config"`
}

func registerServeFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("source", "", "configuration source: file:DIR")
	f.String("xds-address", ":18000", "address of the xDS gRPC server")
	f.String("diagnostics-address", ":8877", "address of the diagnostics HTTP server (/, /config.json, /metrics, /healthz, /readyz)")
	f.Uint32("listener-port", 8080, "port of Envoy's HTTP listener")
	f.String("id", "default", "ambassador_id of this installation: documents owned by another id are ignored")
	f.String("cluster-domain", "cluster.local", "Kubernetes cluster DNS domain")
	f.Duration("holdoff", 20*time.Millisecond, "rebuild this long after the last change")
	f.Duration("max-holdoff", 200*time.Millisecond, "but at most this long after the first")
	f.String("log-level", "info", "log level: debug, info or error")
	f.String("config", "", "YAML file with settings named like the flags")
}

func loadServeConfig(cmd *cobra.Command) (serveConfig, error) {
	v := viper.New()
	v.SetEnvPrefix("KFGATE")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	var bindErr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			bindErr = errors.Join(bindErr, v.BindPFlag(f.Name, f))
		}
	})
	if bindErr != nil {
		return serveConfig{}, bindErr
	}
	if file := v.GetString("config"); file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return serveConfig{}, fmt.Errorf("reading --config %s: %w", file, err)
		}
	}
	var cfg serveConfig
	if err := v.UnmarshalExact(&cfg, viper.DecodeHook(mapstructure.StringToTimeDurationHookFunc())); err != nil {
		return cfg, fmt.Errorf("configuration: %w", err)
	}
	return cfg, cfg.validate()
}

func (c serveConfig) validate() error {
	var errs []error
	switch {
	case c.Source == "":
		errs = append(errs, errors.New("--source is required (file:DIR)"))
	case c.Source == "kubernetes":
		errs = append(errs, errors.New("--source kubernetes is not available in this release; use file:DIR"))
	case !strings.HasPrefix(c.Source, "file:"):
		errs = append(errs, fmt.Errorf("--source %q: want file:DIR", c.Source))
	default:
		if st, err := os.Stat(c.dir()); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("--source %q: %s is not a readable directory", c.Source, c.dir()))
		}
	}
	if c.ListenerPort == 0 || c.ListenerPort > 65535 {
		errs = append(errs, fmt.Errorf("--listener-port %d: want 1-65535", c.ListenerPort))
	}
	if c.Holdoff <= 0 || c.MaxHoldoff < c.Holdoff {
		errs = append(errs, fmt.Errorf("--holdoff %s and --max-holdoff %s: want 0 < holdoff <= max-holdoff", c.Holdoff, c.MaxHoldoff))
	}
	if c.ID == "" {
		errs = append(errs, errors.New("--id must not be empty"))
	}
	if _, err := levelOf(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
