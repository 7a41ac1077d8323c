package kubeflow

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// selectedPods returns the pods of svc's namespace that selector selects and that run or will run.
// An empty selector selects nothing (as for a Service).
func selectedPods(svc *corev1.Service, pods []corev1.Pod, selector map[string]string) []*corev1.Pod {
	if len(selector) == 0 {
		return nil
	}
	var out []*corev1.Pod
	for i := range pods {
		p := &pods[i]
		if p.Namespace != "" && p.Namespace != svc.Namespace || p.DeletionTimestamp != nil ||
			p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if matches(selector, p.Labels) {
			out = append(out, p)
		}
	}
	// Newest first: during a rollout the new pods say what the Service will serve.
	slices.SortStableFunc(out, func(a, b *corev1.Pod) int {
		return cmp.Or(b.CreationTimestamp.Compare(a.CreationTimestamp.Time), cmp.Compare(a.Name, b.Name))
	})
	return out
}

func matches(selector, labels map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

const tfBinary = "tensorflow_model_server"

// tfServer is what a container running tensorflow_model_server says about itself.
type tfServer struct {
	pod, container string
	created        time.Time
	modelName      string // raw, unchecked; "" when not given
	nameFrom       string // "--model_name" or "$MODEL_NAME"
	restPort       int32  // 0: REST is off (tensorflow_model_server's default)
	configFile     bool   // --model_config_file: many models, --model_name is ignored
	image          bool   // the flags come from the tensorflow/serving image's entrypoint
	ports          []corev1.ContainerPort
}

func (s *tfServer) where() string {
	return fmt.Sprintf("pod %s (container %s)", s.pod, s.container)
}

// tfServers finds, per pod (newest first), the first container that runs TF Serving.
func tfServers(pods []*corev1.Pod) ([]*tfServer, error) {
	var out []*tfServer
	for _, p := range pods {
		for i := range p.Spec.Containers {
			s, err := tfServerOf(p, &p.Spec.Containers[i])
			if err != nil {
				return nil, err
			}
			if s != nil {
				out = append(out, s)
				break
			}
		}
	}
	return out, nil
}

// tfServerOf reads a container's command line: tensorflow_model_server's own, or the one the
// tensorflow/serving image's entrypoint runs (gRPC 8500, REST 8501, --model_name=$MODEL_NAME).
func tfServerOf(p *corev1.Pod, c *corev1.Container) (*tfServer, error) {
	env := envOf(c)
	tokens := splitScripts(expand(slices.Concat(c.Command, c.Args), env))
	s := &tfServer{pod: p.Name, container: c.Name, created: p.CreationTimestamp.Time, ports: c.Ports}
	var flags []string
	if i := slices.IndexFunc(tokens, func(t string) bool { return path.Base(t) == tfBinary }); i >= 0 {
		flags = tokens[i+1:]
	} else if len(c.Command) == 0 && isServingImage(c.Image) {
		s.image = true
		name, ok := env["MODEL_NAME"]
		if !ok {
			name = "model" // the image's ENV MODEL_NAME
		}
		flags = append([]string{"--port=8500", "--rest_api_port=8501", "--model_name=" + name}, expand(c.Args, env)...)
	} else {
		return nil, nil
	}
	vals := parseFlags(flags)
	s.modelName, s.nameFrom = vals["model_name"], "--model_name"
	if _, inArgs := parseFlags(expand(c.Args, env))["model_name"]; s.image && !inArgs {
		s.nameFrom = "$MODEL_NAME"
	}
	_, s.configFile = vals["model_config_file"]
	if v, ok := vals["rest_api_port"]; ok {
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return nil, &FieldError{Field: fmt.Sprintf("Pod %s, container %s, --rest_api_port", p.Name, c.Name), Value: v, Message: "must be a port number 0-65535"}
		}
		s.restPort = int32(n)
	}
	return s, nil
}

// envOf returns the container's literal environment variables (valueFrom ones cannot be known).
func envOf(c *corev1.Container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	return env
}

// expand substitutes $(VAR) references the way the kubelet does for command and args: in one pass,
// never re-reading what a substitution inserted (so "$(A)" whose value holds "$(B)" stays as is, and
// chains of variables cannot blow up), with "$$" for a literal "$". A token that would grow past
// maxExpanded is left unexpanded: pods are written by namespace users.
func expand(tokens []string, env map[string]string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i] = expandOne(t, env)
	}
	return out
}

const maxExpanded = 4096

func expandOne(t string, env map[string]string) string {
	if !strings.Contains(t, "$") {
		return t
	}
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		if t[i] != '$' || i+1 >= len(t) {
			b.WriteByte(t[i])
			continue
		}
		switch t[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(t[i+2:], ')')
			if end < 0 {
				b.WriteString(t[i:])
				i = len(t)
				continue
			}
			name := t[i+2 : i+2+end]
			if v, ok := env[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(t[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
		if b.Len() > maxExpanded {
			return t
		}
	}
	return b.String()
}

var unquote = strings.NewReplacer(`'`, "", `"`, "")

// splitScripts splits a `sh -c "tensorflow_model_server --port=9000 ..."` script into words.
func splitScripts(tokens []string) []string {
	var out []string
	for _, t := range tokens {
		if !strings.ContainsAny(t, " \t\n") || !strings.Contains(t, tfBinary) {
			out = append(out, t)
			continue
		}
		for _, f := range strings.Fields(t) {
			out = append(out, unquote.Replace(f))
		}
	}
	return out
}

// valueFlags take a value, as --flag=value or as --flag value.
var valueFlags = map[string]bool{"port": true, "rest_api_port": true, "model_name": true, "model_base_path": true, "model_config_file": true}

// parseFlags reads -flag=value, --flag=value and, for valueFlags, --flag value; a later flag wins,
// and a shell operator ends the command.
func parseFlags(tokens []string) map[string]string {
	out := map[string]string{}
	for i := 0; i < len(tokens); i++ {
		t := tokens[i]
		if t == "&&" || t == "||" || t == ";" || t == "|" {
			break
		}
		if !strings.HasPrefix(t, "-") {
			continue
		}
		name := strings.TrimLeft(t, "-")
		if k, v, ok := strings.Cut(name, "="); ok {
			out[k] = v
			continue
		}
		if valueFlags[name] && i+1 < len(tokens) && !strings.HasPrefix(tokens[i+1], "-") {
			out[name] = tokens[i+1]
			i++
			continue
		}
		out[name] = ""
	}
	return out
}

// isServingImage: tensorflow/serving with any registry, tag or digest (latest-gpu, 2.14.1, ...).
func isServingImage(image string) bool {
	repo, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return repo == "tensorflow/serving" || strings.HasSuffix(repo, "/tensorflow/serving")
}

// servicePortTargeting finds the Service port whose target is container port n of the server's
// container: by number, by the container port's name, or (no targetPort) by the port itself.
func servicePortTargeting(svc *corev1.Service, s *tfServer, n int32) *corev1.ServicePort {
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		tp := p.TargetPort
		switch {
		case tp.Type == intstr.String:
			for _, cp := range s.ports {
				if cp.Name == tp.StrVal && cp.ContainerPort == n {
					return p
				}
			}
		case tp.IntVal == 0 && p.Port == n, tp.IntVal == n:
			return p
		}
	}
	return nil
}
