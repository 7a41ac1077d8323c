package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// run executes kfgate in-process and returns stdout, stderr and the exit status.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	out, errOut, err := runErr(t, args...)
	code := 0
	if err != nil {
		var ee exitError
		if !errors.As(err, &ee) {
			t.Fatalf("kfgate %v: %v", args, err)
		}
		code = ee.code
	}
	return out, errOut, code
}

func TestRenderExamples(t *testing.T) {
	out, stderr, code := run(t, "render", "-f", "../../examples")
	if code != 0 || stderr != "" {
		t.Fatalf("render examples: exit %d, stderr %q", code, stderr)
	}
	var doc map[string][]map[string]any
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"listeners", "routes", "clusters", "endpoints"} {
		if len(doc[key]) == 0 {
			t.Errorf("render output lacks %s", key)
		}
	}
	if _, ok := doc["secrets"]; !ok || len(doc) != 5 {
		t.Errorf("render must print exactly five keys (secrets too, even when empty), got %d", len(doc))
	}
	if !strings.Contains(out, "prefixRewrite") {
		t.Error("resources must be in protojson form (lowerCamelCase)")
	}
}

func TestRenderAndLintExitStatus(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: ambassador/v0\nkind: Mapping\nname: x\nprefix: nope\nservice: app\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, "render", "-f", bad); code != 1 || !strings.Contains(stderr, bad+":4") {
		t.Errorf("render of a rejected document: exit %d, stderr %q", code, stderr)
	}
	out, _, code := run(t, "lint", "-f", bad)
	if code != 1 || !strings.Contains(out, `bad.yaml:4: Mapping "x": prefix: error: must start with "/"`) {
		t.Errorf("lint: exit %d, output %q", code, out)
	}
	if _, _, code := run(t, "lint", "-f", "../../examples"); code != 0 {
		t.Errorf("lint examples: exit %d", code)
	}
}

func TestBootstrap(t *testing.T) {
	out, _, code := run(t, "bootstrap", "--xds-address", "kfgate.kubeflow:18000", "--node-id", "envoy-1")
	if code != 0 || !strings.Contains(out, "envoy-1") || !strings.Contains(out, "portValue: 18000") || !strings.Contains(out, "STRICT_DNS") {
		t.Errorf("bootstrap: exit %d\n%s", code, out)
	}
	if _, _, err := runErr(t, "bootstrap", "--xds-address", "nope"); err == nil {
		t.Error("a bad --xds-address must fail")
	}
}

func TestServeConfigValidation(t *testing.T) {
	if _, _, err := runErr(t, "serve"); err == nil || !strings.Contains(err.Error(), "--source is required") {
		t.Errorf("serve without a source: %v", err)
	}
	if _, _, err := runErr(t, "serve", "--source", "file:/does/not/exist"); err == nil || !strings.Contains(err.Error(), "not a readable directory") {
		t.Errorf("serve with a missing dir: %v", err)
	}
	cfg := filepath.Join(t.TempDir(), "kfgate.yaml")
	if err := os.WriteFile(cfg, []byte("source: file:../../examples\nxds-adress: :1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runErr(t, "serve", "--config", cfg); err == nil || !strings.Contains(err.Error(), "xds-adress") {
		t.Errorf("unknown config keys must be rejected: %v", err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--watch-namespaces", "team-a,Team_B"}, `"Team_B" is not a namespace name`},
		{[]string{"--trusted-namespaces", "kubeflow,Kube Flow"}, `--trusted-namespaces: "Kube Flow" is not a namespace name`},
		{[]string{"--tenant-paths", "/{namespace}/,/apps/{name}/"}, `--tenant-paths: "/apps/{name}/": want a path prefix`},
		{[]string{"--tenant-paths", "/x"}, `--tenant-paths: "/x": want a path prefix`},
		{[]string{"--renew-deadline", "20s"}, "want 0 < retry-period < renew-deadline < lease-duration"},
		{[]string{"--id", "Not A Lease"}, "cannot name a Lease"},
		{[]string{"--https-port", "8080"}, "--https-port 8080: want 1-65535, not the --listener-port"},
		{[]string{"--https-port", "70000"}, "--https-port 70000"},
	} {
		_, _, err := runErr(t, append([]string{"serve", "--source", "kubernetes"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("serve --source kubernetes %v: %v, want %q", c.args, err, c.want)
		}
	}
	t.Setenv("KFGATE_WATCH_NAMESPACES", "a,b")
	t.Setenv("KFGATE_SOURCE", "kubernetes")
	cmd := newServeCommand()
	cfgKube, err := loadServeConfig(cmd)
	if err != nil || strings.Join(cfgKube.WatchNamespaces, "|") != "a|b" {
		t.Errorf("KFGATE_WATCH_NAMESPACES=a,b gives %q (%v)", cfgKube.WatchNamespaces, err)
	}
}

func runErr(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// Without --tenant-paths, serve gives tenants the space its model template puts their models in.
func TestServeTenantPaths(t *testing.T) {
	for tmpl, want := range map[string]string{
		"/models/{name}/":             "/{namespace}/,/notebook/{namespace}/,/models/",
		"/models/{namespace}/{name}/": "/{namespace}/,/notebook/{namespace}/,/models/{namespace}/",
		"/{namespace}/serve/{name}/":  "/{namespace}/,/notebook/{namespace}/,/{namespace}/serve/",
	} {
		if got := strings.Join(serveConfig{ModelPathTemplate: tmpl}.tenantPaths(), ","); got != want {
			t.Errorf("%s: %s, want %s", tmpl, got, want)
		}
	}
	if got := (serveConfig{ModelPathTemplate: "/models/{name}/", TenantPaths: []string{"/apps/"}}).tenantPaths(); len(got) != 1 || got[0] != "/apps/" {
		t.Errorf("explicit --tenant-paths: %v", got)
	}
}

// lint and render hold tenants to the same path spaces as serve: --model-path-template's, too.
func TestLintTenantPaths(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "tenant.yaml", `apiVersion: v1
kind: Service
metadata:
  name: app
  namespace: team-a
  annotations:
    kfgate.io/config: |
      ---
      apiVersion: getambassador.io/v2
      kind: Mapping
      name: theirs
      prefix: /models/team-b/mnist/
      service: app
spec:
  ports:
  - {name: http, port: 80}
`)
	if _, stderr, code := run(t, "lint", "-f", file, "--trusted-namespaces", "kubeflow"); code != 0 {
		t.Errorf("under the shared /models/ space: exit %d, %s", code, stderr)
	}
	out, _, code := run(t, "lint", "-f", file, "--trusted-namespaces", "kubeflow", "--model-path-template", "/models/{namespace}/{name}/")
	if code != 1 || !strings.Contains(out, `"/models/team-b/mnist/" may match paths outside the namespace's path spaces /team-a/, /notebook/team-a/, /models/team-a/`) {
		t.Errorf("another namespace's model path under the namespaced template: exit %d, %s", code, out)
	}
}
