package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"github.com/kfgate/kfgate/authn"
)

func newAuthnCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "authn",
		Short: "Run the ext_authz service: OIDC single sign-on and bearer tokens for Envoy",
		Long: `kfgate authn answers Envoy's ext_authz filter (envoy.service.auth.v3.Authorization/Check over gRPC).
Browsers are sent through an OpenID Connect login (authorization code, PKCE, state and nonce) and keep a
session (sealed cookie or Redis); API clients get a 401 instead, and may send bearer JWTs (configured issuers,
Kubernetes ServiceAccount tokens). Upstream apps receive the identity in kubeflow-userid / kubeflow-groups;
clients can never supply those headers themselves.

Settings come from --config FILE (YAML), then KFGATE_AUTHN_<PATH> environment variables (oidc.issuer is
KFGATE_AUTHN_OIDC_ISSUER; lists are comma-separated, lists of objects JSON), then flags. Unknown keys and
invalid values stop the start with a message naming the setting. Secrets are read from files:
oidc.clientSecretFile, session.keyFiles (each 32 random bytes, base64; the first seals, all open),
session.redis.passwordFile. Every setting is in docs/authn.md.

  kfgate authn --config /etc/kfgate/authn.yaml
  KFGATE_AUTHN_OIDC_ISSUER=http://dex.auth.svc.cluster.local:5556/dex kfgate authn --config authn.yaml`,
		Args: cobra.NoArgs,
		RunE: runAuthn,
	}
	authn.RegisterFlags(cmd.Flags())
	cmd.Flags().String("kubeconfig", "", "kubeconfig for TokenReview and SubjectAccessReview; default: in-cluster, else $KUBECONFIG")
	return cmd
}

func runAuthn(cmd *cobra.Command, _ []string) error {
	cfg, err := authn.Load(cmd.Flags(), os.Getenv)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.LogLevel)
	if err != nil {
		return err
	}
	kubeconfig, _ := cmd.Flags().GetString("kubeconfig")
	srv, err := authn.NewServer(cfg, authn.Options{
		Log:  log.WithName("authn"),
		Kube: func() (*rest.Config, error) { return restConfig(kubeconfig) },
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return srv.Run(ctx)
}
