package install

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/kfgate/kfgate/authn"
	"github.com/kfgate/kfgate/gateway/xds"
)

// The bootstrap the Envoy pods run: `kfgate bootstrap --xds-address kfgate-controlplane:18000` with
// the command's other defaults (node id envoy, node cluster kfgate, admin port 9901, RE2 limit 200).
var bootstrapOptions = xds.BootstrapOptions{
	XDSAddress: "kfgate-controlplane:18000", NodeID: "envoy", Cluster: "kfgate", AdminPort: 9901, RegexMaxSize: 200,
}

// TestEnvoyBootstrap: the ConfigMap Envoy starts from is exactly kfgate's bootstrap (xds.Bootstrap,
// and the command's output), and it points at the control plane's Service and xDS port.
func TestEnvoyBootstrap(t *testing.T) {
	want, err := xds.Bootstrap(bootstrapOptions, "yaml")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(kfgateBinary(t), "bootstrap", "--xds-address", bootstrapOptions.XDSAddress).Output(); err != nil || !bytes.Equal(out, want) { // #nosec G204 -- the test's own binary
		t.Errorf("`kfgate bootstrap --xds-address %s` (%v) differs from xds.Bootstrap with the options the test assumes:\n%s", bootstrapOptions.XDSAddress, err, out)
	}
	host, port, err := net.SplitHostPort(bootstrapOptions.XDSAddress)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range variants {
		t.Run(b.name, func(t *testing.T) {
			out := render(t, b.dir)
			envoy := out.deployment(t, "kfgate-envoy")
			c := container(t, envoy, "envoy")
			i := slices.Index(c.Args, "-c")
			if i < 0 || i+1 == len(c.Args) {
				t.Fatalf("envoy runs without -c: %q", c.Args)
			}
			got := mountedFile(t, out, envoy.Spec.Template.Spec, c, c.Args[i+1])
			if got != string(want) {
				t.Errorf("Envoy's bootstrap %s is not kfgate's: regenerate it with\n  go run ./cmd/kfgate bootstrap --xds-address %s > kustomize/base/envoy/bootstrap.yaml\ngot:\n%s", c.Args[i+1], bootstrapOptions.XDSAddress, got)
			}
			cp := out.service(t, host)
			sp := slices.IndexFunc(cp.Spec.Ports, func(p corev1.ServicePort) bool { return strconv.Itoa(int(p.Port)) == port })
			if sp < 0 {
				t.Fatalf("Service %s has no port %s, which the bootstrap dials", host, port)
			}
			plane := container(t, out.deployment(t, "kfgate-controlplane"), "controlplane")
			xdsAddr, _ := flag(plane.Args, "xds-address")
			if _, p, _ := net.SplitHostPort(xdsAddr); !targets(cp.Spec.Ports[sp].TargetPort, plane, p) {
				t.Errorf("Service %s port %s must reach the control plane's --xds-address %q", host, port, xdsAddr)
			}
			for flagName, envoyPort := range map[string]string{"listener-port": "http", "https-port": "https"} {
				v, _ := flag(plane.Args, flagName)
				if got := containerPort(c, envoyPort); strconv.Itoa(int(got)) != v {
					t.Errorf("the control plane's --%s=%s, but Envoy's %s port is %d", flagName, v, envoyPort, got)
				}
			}
		})
	}
}

// targets reports whether a Service's target port reaches container port number port of c.
func targets(target intstr.IntOrString, c corev1.Container, port string) bool {
	n, err := strconv.Atoi(port)
	if err != nil {
		return false
	}
	if target.Type == intstr.String {
		return containerPort(c, target.StrVal) == int32(n)
	}
	return target.IntVal == int32(n)
}

// mountedFile returns the content of file as container c of a pod sees it: a key of a ConfigMap of
// the build mounted at the file's directory.
func mountedFile(t *testing.T, out *output, spec corev1.PodSpec, c corev1.Container, file string) string {
	t.Helper()
	for _, m := range c.VolumeMounts {
		key, ok := strings.CutPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok || strings.Contains(key, "/") {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				cm := out.get("ConfigMap", v.ConfigMap.Name)
				if cm == nil {
					t.Fatalf("volume %s mounts ConfigMap %s, which the build does not hold", v.Name, v.ConfigMap.Name)
				}
				data, _ := cm.Object["data"].(map[string]any)
				if s, ok := data[key].(string); ok {
					return s
				}
				t.Fatalf("ConfigMap %s has no key %s", cm.GetName(), key)
			}
		}
	}
	t.Fatalf("no ConfigMap of the build is mounted at %s", path.Dir(file))
	return ""
}

// secretKeys are the files of the Secret kfgate-authn that settings may name (secrets.env lists
// them): kfgate authn refuses to start when one it needs is missing.
var secretKeys = []string{"client-secret", "session-key", "session-key-previous", "redis-password"}

// TestAuthnConfig loads every build's kfgate authn configuration with kfgate authn's own loader:
// its arguments, its environment (from the build's ConfigMaps) and its configuration file. The
// ports it listens on must be those its container, probes and Service declare, and the secrets it
// reads must be files of the Secret kfgate-authn.
func TestAuthnConfig(t *testing.T) {
	for _, b := range variants {
		t.Run(b.name, func(t *testing.T) {
			out := render(t, b.dir)
			cfg, d, c := loadAuthn(t, out)
			for addr, port := range map[string]string{cfg.GRPCAddress: "grpc", cfg.HTTPAddress: "http"} {
				if _, p, _ := net.SplitHostPort(addr); strconv.Itoa(int(containerPort(c, port))) != p {
					t.Errorf("kfgate authn listens on %s, but its %s port is %d", addr, port, containerPort(c, port))
				}
			}
			if c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
				t.Error("kfgate authn's probes must be /readyz (ready) and /healthz (alive)")
			}
			files := append([]string{cfg.OIDC.ClientSecretFile}, cfg.Session.KeyFiles...)
			if cfg.Session.Store == "redis" {
				files = append(files, cfg.Session.Redis.PasswordFile)
			}
			for _, f := range files {
				checkSecretFile(t, out, d.Spec.Template.Spec, c, f)
			}
			if b.name == "kubeflow" {
				checkKubeflowAuthn(t, cfg)
			}
		})
	}
}

// loadAuthn loads a build's kfgate authn configuration as kfgate authn would: its container's
// arguments, its environment (from the build's ConfigMaps) and its mounted configuration file. The
// test's own KFGATE_AUTHN_* variables are unset for the test.
func loadAuthn(t *testing.T, out *output) (authn.Config, *appsv1.Deployment, corev1.Container) {
	t.Helper()
	d := out.deployment(t, "kfgate-authn")
	c := container(t, d, "authn")
	if len(c.Args) == 0 || c.Args[0] != "authn" {
		t.Fatalf("kfgate-authn runs %q, want `authn ...`", c.Args)
	}
	fs := pflag.NewFlagSet("authn", pflag.ContinueOnError)
	authn.RegisterFlags(fs)
	fs.String("kubeconfig", "", "")
	if err := fs.Parse(c.Args[1:]); err != nil {
		t.Fatal(err)
	}
	file, _ := fs.GetString("config")
	local := filepath.Join(t.TempDir(), "authn.yaml")
	if err := os.WriteFile(local, []byte(mountedFile(t, out, d.Spec.Template.Spec, c, file)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fs.Set("config", local); err != nil {
		t.Fatal(err)
	}
	clearAuthnEnv(t)
	for _, e := range c.Env {
		t.Setenv(e.Name, envValue(t, out, e))
	}
	cfg, err := authn.Load(fs, os.Getenv)
	if err != nil {
		t.Fatalf("kfgate authn would not start: %v", err)
	}
	return cfg, d, c
}

// clearAuthnEnv unsets every KFGATE_AUTHN_* variable of the test's own environment for the test.
func clearAuthnEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, authn.EnvPrefix+"_") {
			t.Setenv(name, "")
			if err := os.Unsetenv(name); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// envValue resolves an environment variable the way the kubelet would, from the build's objects.
func envValue(t *testing.T, out *output, e corev1.EnvVar) string {
	t.Helper()
	switch {
	case e.ValueFrom == nil:
		return e.Value
	case e.ValueFrom.ConfigMapKeyRef != nil:
		ref := e.ValueFrom.ConfigMapKeyRef
		v, ok := out.configMap(t, ref.Name).Data[ref.Key]
		if !ok {
			t.Fatalf("%s: ConfigMap %s has no key %s", e.Name, ref.Name, ref.Key)
		}
		return v
	default:
		t.Fatalf("%s: the test cannot resolve %+v", e.Name, e.ValueFrom)
		return ""
	}
}

// checkSecretFile: file is a key of the Secret kfgate-authn as the container mounts it.
func checkSecretFile(t *testing.T, out *output, spec corev1.PodSpec, c corev1.Container, file string) {
	t.Helper()
	for _, m := range c.VolumeMounts {
		key, ok := strings.CutPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name != m.Name || v.Secret == nil {
				continue
			}
			if s := out.get("Secret", "kfgate-authn"); s == nil || s.GetName() != v.Secret.SecretName {
				t.Errorf("%s: the volume mounts Secret %s, not the build's kfgate-authn", file, v.Secret.SecretName)
			}
			if !slices.Contains(secretKeys, key) || v.Secret.Items != nil {
				t.Errorf("%s: not one of the Secret's documented keys %v", file, secretKeys)
			}
			return
		}
	}
	t.Errorf("%s: no Secret is mounted there", file)
}

// checkKubeflowAuthn: what Kubeflow's apps and Dex expect of the gateway.
func checkKubeflowAuthn(t *testing.T, cfg authn.Config) {
	t.Helper()
	if cfg.OIDC.Issuer != "http://dex.auth.svc.cluster.local:5556/dex" || cfg.OIDC.ClientID != "kubeflow-oidc-authservice" {
		t.Errorf("Kubeflow's Dex: issuer %q, client %q", cfg.OIDC.Issuer, cfg.OIDC.ClientID)
	}
	if cfg.Identity.UserHeader != "kubeflow-userid" || cfg.Identity.GroupsHeader != "kubeflow-groups" || cfg.Identity.UserPrefix != "" {
		t.Errorf("Kubeflow's identity headers: %+v", cfg.Identity)
	}
	if !slices.ContainsFunc(cfg.SkipAuth, func(r authn.SkipRule) bool { return r.Prefix == "/dex/" && r.Method == "" }) {
		t.Errorf("/dex/ must skip the login: %+v", cfg.SkipAuth)
	}
	if cfg.Bearer.Kubernetes.Mode != "tokenreview" || cfg.Bearer.Kubernetes.Issuer == "" {
		t.Errorf("ServiceAccount tokens (the KFP SDK's) need TokenReviews: %+v", cfg.Bearer.Kubernetes)
	}
	// Multi-tenancy: a profile's notebooks and models admit only those Kubeflow's roles let get
	// notebooks there; the shared apps' namespaces are open to every logged-in user.
	if ns := cfg.Authorization.Namespace; !ns.Enabled || ns.Verb != "get" || ns.Group != "kubeflow.org" || ns.Resource != "notebooks" {
		t.Errorf("namespace access must be on, asking for get notebooks.kubeflow.org: %+v", ns)
	}
	if ex := slices.Sorted(slices.Values(cfg.Authorization.ExemptNamespaces)); !slices.Equal(ex, []string{"auth", "kubeflow"}) {
		t.Errorf("exempt namespaces %q, want exactly kubeflow and auth (the shared apps')", cfg.Authorization.ExemptNamespaces)
	}
}

// TestFlags runs every kfgate container's arguments through the kfgate binary's own flag parsing
// (`kfgate <args> --help` fails on an unknown flag or a bad value), and checks that every
// container's image is the one set in kustomize/base's images.
func TestFlags(t *testing.T) {
	bin := kfgateBinary(t)
	for _, b := range variants {
		t.Run(b.name, func(t *testing.T) {
			for _, d := range render(t, b.dir).deployments(t) {
				for _, c := range d.Spec.Template.Spec.Containers {
					if !strings.HasPrefix(c.Image, "ghcr.io/kfgate/kfgate") {
						continue
					}
					if c.Image != kfgateImage(t) {
						t.Errorf("%s/%s runs %s, want %s", d.Name, c.Name, c.Image, kfgateImage(t))
					}
					if len(c.Command) > 0 {
						t.Errorf("%s/%s overrides the image's entrypoint (the kfgate binary): %q", d.Name, c.Name, c.Command)
					}
					args := make([]string, len(c.Args))
					for i, a := range c.Args {
						args[i] = expand(a, c.Env)
					}
					cmd := exec.Command(bin, append(args, "--help")...) // #nosec G204 -- the test's own binary
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Errorf("%s/%s: kfgate %s: %v\n%s", d.Name, c.Name, strings.Join(args, " "), err, out)
					}
				}
			}
		})
	}
}

// expand replaces $(VAR) as the kubelet does, with a stand-in for values from the downward API.
func expand(arg string, env []corev1.EnvVar) string {
	for _, e := range env {
		v := e.Value
		if e.ValueFrom != nil {
			v = "from-" + e.Name
		}
		arg = strings.ReplaceAll(arg, "$("+e.Name+")", v)
	}
	return arg
}

// kfgateImage is the image kustomize/base sets for every kfgate container.
func kfgateImage(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "kustomize", "base", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Images []struct{ Name, NewTag string }
	}
	if err := sigsyaml.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	for _, i := range k.Images {
		if i.Name == "ghcr.io/kfgate/kfgate" && i.NewTag != "" {
			return i.Name + ":" + i.NewTag
		}
	}
	t.Fatal("kustomize/base/kustomization.yaml sets no tag for ghcr.io/kfgate/kfgate")
	return ""
}

var kfgateBuild struct {
	once sync.Once
	dir  string
	bin  string
	err  error
	out  []byte
}

// kfgateBinary variants cmd/kfgate once for the package's tests (removed by TestMain).
func kfgateBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the go command is not on PATH")
		}
		t.Skip("the go command is not on PATH")
	}
	kb := &kfgateBuild
	kb.once.Do(func() {
		if kb.dir, kb.err = os.MkdirTemp("", "kfgate-install-test-"); kb.err != nil {
			return
		}
		kb.bin = filepath.Join(kb.dir, "kfgate")
		cmd := exec.Command(goTool, "build", "-o", kb.bin, "./cmd/kfgate") // #nosec G204 -- the go tool
		cmd.Dir = repoRoot
		kb.out, kb.err = cmd.CombinedOutput()
	})
	if kb.err != nil {
		t.Fatalf("building cmd/kfgate: %v\n%s", kb.err, kb.out)
	}
	return kb.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if kfgateBuild.dir != "" {
		_ = os.RemoveAll(kfgateBuild.dir)
	}
	os.Exit(code)
}
