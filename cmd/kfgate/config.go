package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source/kube"
	"github.com/kfgate/kfgate/kubeflow"
)

// serveConfig is serve's configuration, from flags, KFGATE_* environment variables and --config.
type serveConfig struct {
	Source             string        `mapstructure:"source"`
	XDSAddress         string        `mapstructure:"xds-address"`
	DiagnosticsAddress string        `mapstructure:"diagnostics-address"`
	ListenerPort       uint32        `mapstructure:"listener-port"`
	HTTPSPort          uint32        `mapstructure:"https-port"`
	ID                 string        `mapstructure:"id"`
	ClusterDomain      string        `mapstructure:"cluster-domain"`
	TrustedNamespaces  []string      `mapstructure:"trusted-namespaces"`
	TenantPaths        []string      `mapstructure:"tenant-paths"`
	Holdoff            time.Duration `mapstructure:"holdoff"`
	MaxHoldoff         time.Duration `mapstructure:"max-holdoff"`
	LogLevel           string        `mapstructure:"log-level"`
	Config             string        `mapstructure:"config"`

	// --source kubernetes
	Kubeconfig              string        `mapstructure:"kubeconfig"`
	WatchNamespaces         []string      `mapstructure:"watch-namespaces"`
	LeaderElection          bool          `mapstructure:"leader-election"`
	LeaderElectionNamespace string        `mapstructure:"leader-election-namespace"`
	LeaseDuration           time.Duration `mapstructure:"lease-duration"`
	RenewDeadline           time.Duration `mapstructure:"renew-deadline"`
	RetryPeriod             time.Duration `mapstructure:"retry-period"`
	KubeflowModels          bool          `mapstructure:"kubeflow-models"`
	KubeflowNotebooks       bool          `mapstructure:"kubeflow-notebooks"`
	ModelPathTemplate       string        `mapstructure:"model-path-template"`
}

func registerServeFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("source", "", "configuration source: file:DIR or kubernetes")
	f.String("xds-address", ":18000", "address of the xDS gRPC server")
	f.String("diagnostics-address", ":8877", "address of the diagnostics HTTP server (/, /config.json, /metrics, /healthz, /readyz)")
	f.Uint32("listener-port", 8080, "port of Envoy's HTTP listener")
	f.Uint32("https-port", 8443, "port of Envoy's HTTPS listener (when a TLSContext serves hosts)")
	f.String("id", "default", "ambassador_id of this installation: documents owned by another id are ignored")
	f.String("cluster-domain", "cluster.local", "Kubernetes cluster DNS domain")
	f.StringSlice("trusted-namespaces", nil, trustedHelp)
	f.StringSlice("tenant-paths", nil, tenantPathsHelp)
	f.Duration("holdoff", 20*time.Millisecond, "rebuild this long after the last change (kubernetes: a change that comes this long or more after the one before is built at once)")
	f.Duration("max-holdoff", 200*time.Millisecond, "but at most this long after the first")
	f.String("log-level", "info", "log level: debug, info or error")
	f.String("config", "", "YAML file with settings named like the flags")
	f.String("kubeconfig", "", "kubeconfig file (--source kubernetes); default: in-cluster, else $KUBECONFIG or ~/.kube/config")
	f.StringSlice("watch-namespaces", nil, "namespaces to watch, comma-separated (--source kubernetes); default: all")
	f.Bool("leader-election", true, "elect, through a Lease, the one replica that writes Events (--source kubernetes); every replica serves xDS")
	f.String("leader-election-namespace", "", "namespace of the Lease (kfgate-<id>); default: $POD_NAMESPACE, else the in-cluster namespace")
	f.Duration("lease-duration", kube.DefaultLeaderElection.LeaseDuration, "how long a Lease holds without renewal")
	f.Duration("renew-deadline", kube.DefaultLeaderElection.RenewDeadline, "how long the leader keeps trying to renew before it stops writing Events")
	f.Duration("retry-period", kube.DefaultLeaderElection.RetryPeriod, "how often replicas try to take or renew the Lease")
	f.Bool("kubeflow-models", true, "recognise model servers (TF Serving, KServe) and write their Mappings into kfgate.io/generated-config (--source kubernetes; the Lease holder writes)")
	f.Bool("kubeflow-notebooks", true, "route every Kubeflow notebook at /notebook/<namespace>/<name>/ as Kubeflow does, writing its Mapping into kfgate.io/generated-config (--source kubernetes; reads Notebooks' routing annotations when allowed)")
	f.String("model-path-template", kubeflow.DefaultTemplate, "path of each model: {name}, and {namespace} for multi-tenant clusters (/models/{namespace}/{name}/)")
}

// trustedHelp is --trusted-namespaces' help, shared by serve, render and lint.
const trustedHelp = "namespaces whose Services' annotations may configure everything, comma-separated; elsewhere (tenants' namespaces) " +
	"only Mappings to the namespace's own Services, behind the login, with no host, precedence or gateway headers (docs/annotations.md#trusted-namespaces); default: every namespace"

// tenantPathsHelp is --tenant-paths' help.
var tenantPathsHelp = "with --trusted-namespaces: the path prefixes tenants' Mappings may match, comma-separated, {namespace} standing for the tenant's own; default: " +
	strings.Join(mapping.DefaultTenantPaths, ",") + ", with the --model-path-template's space (e.g. /models/{namespace}/) for /models/"

// tenantPaths are --tenant-paths, or by default mapping's, with the model template's space in place of
// /models/ (so that the models the annotator generates in tenants' namespaces stay routable).
func (c serveConfig) tenantPaths() []string { return tenantPaths(c.TenantPaths, c.ModelPathTemplate) }

// tenantPaths is what serve, render and lint give tenants: the --tenant-paths given, else mapping's
// defaults with the model template's space in place of /models/.
func tenantPaths(given []string, modelTemplate string) []string {
	if len(given) > 0 {
		return given
	}
	tmpl, err := kubeflow.ParseTemplate(modelTemplate)
	if err != nil { // validated before use
		return nil
	}
	var out []string
	for _, p := range mapping.DefaultTenantPaths {
		if p == "/models/" {
			p = tmpl.TenantSpace()
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// tenantPathErrors checks --tenant-paths: absolute prefixes ending in "/".
func tenantPathErrors(paths []string) []error {
	var errs []error
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || strings.Contains(strings.ReplaceAll(p, mapping.NamespacePlaceholder, ""), "{") {
			errs = append(errs, fmt.Errorf("--tenant-paths: %q: want a path prefix starting and ending with \"/\", with no placeholder but %s", p, mapping.NamespacePlaceholder))
		}
	}
	return errs
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
	if err := v.UnmarshalExact(&cfg, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(), mapstructure.StringToSliceHookFunc(",")))); err != nil {
		return cfg, fmt.Errorf("configuration: %w", err)
	}
	return cfg, cfg.validate()
}

func (c serveConfig) validate() error {
	var errs []error
	switch {
	case c.Source == "":
		errs = append(errs, errors.New("--source is required (file:DIR or kubernetes)"))
	case c.Source == "kubernetes":
		errs = append(errs, c.validateKube()...)
	case !strings.HasPrefix(c.Source, "file:"):
		errs = append(errs, fmt.Errorf("--source %q: want file:DIR or kubernetes", c.Source))
	default:
		if st, err := os.Stat(c.dir()); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("--source %q: %s is not a readable directory", c.Source, c.dir()))
		}
	}
	if c.ListenerPort == 0 || c.ListenerPort > 65535 {
		errs = append(errs, fmt.Errorf("--listener-port %d: want 1-65535", c.ListenerPort))
	}
	if c.HTTPSPort == 0 || c.HTTPSPort > 65535 || c.HTTPSPort == c.ListenerPort {
		errs = append(errs, fmt.Errorf("--https-port %d: want 1-65535, not the --listener-port", c.HTTPSPort))
	}
	if c.Holdoff <= 0 || c.MaxHoldoff < c.Holdoff {
		errs = append(errs, fmt.Errorf("--holdoff %s and --max-holdoff %s: want 0 < holdoff <= max-holdoff", c.Holdoff, c.MaxHoldoff))
	}
	if c.ID == "" {
		errs = append(errs, errors.New("--id must not be empty"))
	}
	errs = append(errs, namespaceNames("--trusted-namespaces", c.TrustedNamespaces)...)
	errs = append(errs, tenantPathErrors(c.TenantPaths)...)
	if _, err := levelOf(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// namespaceNames checks a flag's namespace names.
func namespaceNames(flag string, names []string) []error {
	var errs []error
	for _, ns := range names {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a namespace name: %s", flag, ns, strings.Join(msgs, "; ")))
		}
	}
	return errs
}

func (c serveConfig) validateKube() []error {
	var errs []error
	errs = append(errs, namespaceNames("--watch-namespaces", c.WatchNamespaces)...)
	if msgs := validation.IsDNS1123Subdomain(c.leaseName()); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--id %q cannot name a Lease (%s): %s", c.ID, c.leaseName(), strings.Join(msgs, "; ")))
	}
	if c.LeaderElection && (c.RetryPeriod <= 0 || c.RenewDeadline <= c.RetryPeriod || c.LeaseDuration <= c.RenewDeadline) {
		errs = append(errs, fmt.Errorf("--retry-period %s, --renew-deadline %s, --lease-duration %s: want 0 < retry-period < renew-deadline < lease-duration",
			c.RetryPeriod, c.RenewDeadline, c.LeaseDuration))
	}
	if _, err := kubeflow.ParseTemplate(c.ModelPathTemplate); err != nil {
		errs = append(errs, fmt.Errorf("--model-path-template: %w", err))
	}
	return errs
}

// leaseName is the Lease of this installation: two installations (two --id) elect separately.
func (c serveConfig) leaseName() string { return "kfgate-" + c.ID }
