package authn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	f := pflag.NewFlagSet("authn", pflag.ContinueOnError)
	RegisterFlags(f)
	if err := f.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "authn.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const minimal = `
oidc:
  issuer: https://idp.example.com
  clientID: kubeflow-oidc-authservice
  clientSecretFile: /etc/kfgate/client-secret
session:
  keyFiles: [/etc/kfgate/key]
`

func TestLoadFileEnvAndFlags(t *testing.T) {
	p := writeConfig(t, minimal+`
identity:
  userPrefix: "oidc:"
skipAuth:
  - {method: GET, exact: /healthz}
bearer:
  issuers:
    - url: https://idp.example.com
      audiences: [pipelines.kubeflow.org]
`)
	env := map[string]string{
		"KFGATE_AUTHN_OIDC_ISSUER":         "http://dex.auth.svc.cluster.local:5556/dex",
		"KFGATE_AUTHN_OIDC_SCOPES":         "openid,email,groups",
		"KFGATE_AUTHN_SESSION_IDLETIMEOUT": "30m",
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := Load(flags(t, "--config", p, "--grpc-address", "127.0.0.1:9999", "--insecure-cookies"), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OIDC.Issuer != "http://dex.auth.svc.cluster.local:5556/dex" {
		t.Errorf("env did not override the file: issuer %q", cfg.OIDC.Issuer)
	}
	if strings.Join(cfg.OIDC.Scopes, " ") != "openid email groups" {
		t.Errorf("scopes %v", cfg.OIDC.Scopes)
	}
	if cfg.Session.IdleTimeout != 30*time.Minute || cfg.Session.AbsoluteTimeout != 12*time.Hour {
		t.Errorf("timeouts %s %s", cfg.Session.IdleTimeout, cfg.Session.AbsoluteTimeout)
	}
	if cfg.GRPCAddress != "127.0.0.1:9999" || cfg.HTTPAddress != ":9192" {
		t.Errorf("addresses %q %q", cfg.GRPCAddress, cfg.HTTPAddress)
	}
	if cfg.Session.Secure {
		t.Error("--insecure-cookies did not turn Secure off")
	}
	if cfg.Identity.UserPrefix != "oidc:" || cfg.Identity.UserHeader != "kubeflow-userid" || cfg.OIDC.CallbackPath != "/authservice/oidc/callback" {
		t.Errorf("identity %+v callback %q", cfg.Identity, cfg.OIDC.CallbackPath)
	}
	if len(cfg.SkipAuth) != 1 || cfg.SkipAuth[0].Exact != "/healthz" {
		t.Errorf("skipAuth %+v: the file replaces the default list", cfg.SkipAuth)
	}
	if len(cfg.Bearer.Issuers) != 1 || cfg.Bearer.Issuers[0].Audiences[0] != "pipelines.kubeflow.org" {
		t.Errorf("bearer %+v", cfg.Bearer)
	}
}

func TestLoadSkipAuthFromEnvJSON(t *testing.T) {
	t.Setenv("KFGATE_AUTHN_SKIPAUTH", `[{"prefix": "/dex/"}, {"method": "GET", "regex": "/static/.*"}]`)
	cfg, err := Load(flags(t, "--config", writeConfig(t, minimal)), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.SkipAuth) != 2 || cfg.SkipAuth[1].Regex != "/static/.*" {
		t.Fatalf("skipAuth %+v", cfg.SkipAuth)
	}
}

func TestLoadRejects(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"unknown key":        {minimal + "sesion: {store: cookie}\n", "sesion"},
		"unknown nested key": {minimal + "identity: {userHeaders: x}\n", "userheaders"},
		"no issuer":          {"oidc: {clientID: x, clientSecretFile: /s}\nsession: {keyFiles: [/k]}\n", "oidc.issuer"},
		"bad store":          {minimal + "  store: memcached\n", "session.store"},
		"redis address":      {minimal + "  store: redis\n", "session.redis.address"},
		"no keys":            {strings.Replace(minimal, "  keyFiles: [/etc/kfgate/key]\n", "  secure: true\n", 1), "session.keyFiles"},
		"idle > absolute":    {minimal + "  idleTimeout: 24h\n", "session.idleTimeout"},
		"bad duration":       {minimal + "  idleTimeout: soon\n", "idleTimeout"},
		"scopes":             {oidcWith("scopes: [email]"), "openid"},
		"skip rule two":      {minimal + "skipAuth: [{prefix: /a, exact: /b}]\n", "skipAuth[0]"},
		"skip rule dots":     {minimal + "skipAuth: [{prefix: /a/../b}]\n", "skipAuth[0]"},
		"skip regex":         {minimal + "skipAuth: [{regex: '('}]\n", "skipAuth[0]"},
		"header":             {minimal + "identity: {userHeader: 'kubeflow userid'}\n", "identity.userHeader"},
		"same headers":       {minimal + "identity: {userHeader: x-user, groupsHeader: x-user}\n", "must differ"},
		"api prefix":         {minimal + "apiPrefixes: [api]\n", "apiPrefixes[0]"},
		"logout path":        {minimal + "logout: {path: /authservice/oidc/callback}\n", "logout.path"},
		"domains":            {minimal + "authorization: {allowedEmailDomains: ['@example.com']}\n", "allowedEmailDomains[0]"},
		"redirect url":       {oidcWith("redirectURL: https://kf.example.com/elsewhere"), "oidc.redirectURL"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(flags(t, "--config", writeConfig(t, c.yaml)), os.Getenv)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one naming %q", err, c.want)
			}
		})
	}
}

// oidcWith is the minimal configuration with one more oidc setting.
func oidcWith(line string) string {
	return strings.Replace(minimal, "  clientID:", "  "+line+"\n  clientID:", 1)
}
