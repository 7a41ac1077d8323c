package install

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestBuilds renders every build, and checks that the variants cover every overlay and component.
func TestBuilds(t *testing.T) {
	used := map[string]bool{}
	for _, b := range variants {
		t.Run(b.name, func(t *testing.T) {
			out := render(t, b.dir)
			if len(out.objs) == 0 {
				t.Fatal("renders nothing")
			}
			for _, u := range out.objs {
				if ns := u.GetNamespace(); ns != "" && ns != b.namespace {
					t.Errorf("%s %s is in namespace %s, want %s", u.GetKind(), u.GetName(), ns, b.namespace)
				}
			}
		})
		used[b.dir] = true
		if k, err := os.ReadFile(filepath.Join(repoRoot, b.dir, "kustomization.yaml")); err == nil {
			for _, line := range strings.Split(string(k), "\n") {
				if _, ref, ok := strings.Cut(line, "kustomize/"); ok && strings.HasPrefix(strings.TrimSpace(line), "- ") {
					used["kustomize/"+ref] = true
				}
			}
		}
	}
	for _, kind := range []string{"overlays", "components"} {
		dirs, err := os.ReadDir(filepath.Join(repoRoot, "kustomize", kind))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dirs {
			if d.IsDir() && !used["kustomize/"+kind+"/"+d.Name()] {
				t.Errorf("kustomize/%s/%s is rendered by no build: add it to variants (testdata/variants)", kind, d.Name())
			}
		}
	}
}

// podSpecs returns the pod templates of every workload; a workload kind the tests do not know
// fails, so that nothing escapes the checks below.
func podSpecs(t *testing.T, out *output) map[string]corev1.PodSpec {
	t.Helper()
	specs := map[string]corev1.PodSpec{}
	for _, u := range out.objs {
		switch u.GetKind() {
		case "Deployment":
			specs["Deployment/"+u.GetName()] = convert[appsv1.Deployment](t, u).Spec.Template.Spec
		case "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod", "ReplicationController":
			t.Errorf("%s %s: the install tests only know Deployments; teach them %s", u.GetKind(), u.GetName(), u.GetKind())
		}
	}
	return specs
}

// TestRestricted checks every pod against the restricted Pod Security Standard (the API server
// checks it too, in TestDryRun).
func TestRestricted(t *testing.T) {
	for _, b := range variants {
		t.Run(b.name, func(t *testing.T) {
			for name, spec := range podSpecs(t, render(t, b.dir)) {
				for _, problem := range restrictedProblems(spec) {
					t.Errorf("%s: %s", name, problem)
				}
			}
		})
	}
}

// restrictedProblems lists what in spec breaks the restricted Pod Security Standard
// (https://kubernetes.io/docs/concepts/security/pod-security-standards/), as it applies to a pod's
// own fields and to the effective security context of each container.
func restrictedProblems(spec corev1.PodSpec) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		add("hostNetwork, hostPID and hostIPC must be false")
	}
	allowed := func(v corev1.Volume) bool {
		s := v.VolumeSource
		return s.ConfigMap != nil || s.CSI != nil || s.DownwardAPI != nil || s.EmptyDir != nil ||
			s.Ephemeral != nil || s.PersistentVolumeClaim != nil || s.Projected != nil || s.Secret != nil
	}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			add("volume %s: hostPath", v.Name)
		} else if !allowed(v) {
			add("volume %s: a volume type the restricted standard does not allow", v.Name)
		}
	}
	pod := spec.SecurityContext
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	if pod.RunAsUser != nil && *pod.RunAsUser == 0 {
		add("pod runAsUser 0")
	}
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		sc := c.SecurityContext
		if sc == nil {
			add("container %s: no securityContext", c.Name)
			continue
		}
		if sc.Privileged != nil && *sc.Privileged {
			add("container %s: privileged", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			add("container %s: allowPrivilegeEscalation must be false", c.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			add("container %s: capabilities must drop ALL", c.Name)
		} else if len(sc.Capabilities.Add) > 0 {
			add("container %s: adds capabilities %v", c.Name, sc.Capabilities.Add)
		}
		nonRoot := pod.RunAsNonRoot
		if sc.RunAsNonRoot != nil {
			nonRoot = sc.RunAsNonRoot
		}
		if nonRoot == nil || !*nonRoot {
			add("container %s: runAsNonRoot must be true (pod or container)", c.Name)
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			add("container %s: runAsUser 0", c.Name)
		}
		seccomp := pod.SeccompProfile
		if sc.SeccompProfile != nil {
			seccomp = sc.SeccompProfile
		}
		if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
			add("container %s: seccompProfile must be RuntimeDefault (pod or container)", c.Name)
		}
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				add("container %s: hostPort %d", c.Name, p.HostPort)
			}
		}
	}
	return out
}

// TestProbesAndResources: every container has readiness and liveness probes, and CPU and memory
// requests and limits.
func TestProbesAndResources(t *testing.T) {
	for _, b := range variants {
		t.Run(b.name, func(t *testing.T) {
			for name, spec := range podSpecs(t, render(t, b.dir)) {
				for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
					if c.ReadinessProbe == nil || c.LivenessProbe == nil {
						t.Errorf("%s container %s: needs a readiness and a liveness probe", name, c.Name)
					}
					for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
						req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
						if req.IsZero() || lim.IsZero() {
							t.Errorf("%s container %s: needs a %s request and limit", name, c.Name, r)
						} else if req.Cmp(lim) > 0 {
							t.Errorf("%s container %s: %s request %s over its limit %s", name, c.Name, r, req.String(), lim.String())
						}
					}
					checkProbePorts(t, name, c)
				}
			}
		})
	}
}

// checkProbePorts: a probe's named port must be one of the container's.
func checkProbePorts(t *testing.T, name string, c corev1.Container) {
	t.Helper()
	for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
		if p == nil {
			continue
		}
		var port intstr.IntOrString
		switch {
		case p.HTTPGet != nil:
			port = p.HTTPGet.Port
		case p.TCPSocket != nil:
			port = p.TCPSocket.Port
		default:
			continue
		}
		if !portMatches(c, port) {
			t.Errorf("%s container %s: a probe uses port %s, which the container does not declare", name, c.Name, port.String())
		}
	}
}

func portMatches(c corev1.Container, port intstr.IntOrString) bool {
	return slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool {
		return (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal)
	})
}

// allowedRules is the whole of the RBAC kfgate may be granted, by role: anything else in a build
// is an error. The control plane's is kustomize/base/controlplane/rbac.yaml (which
// gateway/source/kube's least-privilege test runs under; Notebooks for the notebook helper);
// kfgate authn's are the TokenReviews the Kubeflow overlay needs for ServiceAccount tokens and the
// SubjectAccessReviews of its namespace access check.
var allowedRules = map[string][]string{
	"ClusterRole/kfgate-controlplane": {"/services:get,list,watch,patch", "/pods:get,list,watch", "/secrets:get,list,watch",
		"kubeflow.org/notebooks:get,list,watch", "discovery.k8s.io/endpointslices:get,list,watch", "events.k8s.io/events:create,patch"},
	"Role/kfgate-controlplane-leader-election":     {"coordination.k8s.io/leases:get,create,update"},
	"ClusterRole/kfgate-authn-tokenreview":         {"authentication.k8s.io/tokenreviews:create"},
	"ClusterRole/kfgate-authn-subjectaccessreview": {"authorization.k8s.io/subjectaccessreviews:create"},
}

// TestRBAC: no wildcard anywhere, only the rules above, and every binding names a role and a
// ServiceAccount of the build.
func TestRBAC(t *testing.T) {
	for _, b := range variants {
		t.Run(b.name, func(t *testing.T) {
			out := render(t, b.dir)
			for _, kind := range []string{"ClusterRole", "Role"} {
				for _, u := range out.ofKind(kind) {
					key := kind + "/" + u.GetName()
					r := convert[rbacv1.ClusterRole](t, u) // a Role has the same rules field
					if r.AggregationRule != nil {
						t.Errorf("%s: aggregation rules grant what others decide", key)
					}
					var got []string
					for _, rule := range r.Rules {
						for _, field := range [][]string{rule.APIGroups, rule.Resources, rule.Verbs, rule.ResourceNames, rule.NonResourceURLs} {
							if slices.ContainsFunc(field, func(s string) bool { return strings.Contains(s, "*") }) {
								t.Errorf("%s: a wildcard in %+v", key, rule)
							}
						}
						if len(rule.NonResourceURLs) > 0 || len(rule.ResourceNames) > 0 {
							t.Errorf("%s: unexpected rule %+v", key, rule)
						}
						got = append(got, strings.Join(rule.APIGroups, ",")+"/"+strings.Join(rule.Resources, ",")+":"+strings.Join(rule.Verbs, ","))
					}
					if want, ok := allowedRules[key]; !ok || !slices.Equal(got, want) {
						t.Errorf("%s grants %q; allowed: %q", key, got, want)
					}
				}
			}
			checkBindings(t, out)
		})
	}
}

func checkBindings(t *testing.T, out *output) {
	t.Helper()
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		for _, u := range out.ofKind(kind) {
			rb := convert[rbacv1.RoleBinding](t, u)
			if out.get(rb.RoleRef.Kind, rb.RoleRef.Name) == nil {
				t.Errorf("%s %s binds %s %s, which the build does not hold", kind, rb.Name, rb.RoleRef.Kind, rb.RoleRef.Name)
			}
			for _, s := range rb.Subjects {
				sa := out.get("ServiceAccount", s.Name)
				if s.Kind != rbacv1.ServiceAccountKind || sa == nil || sa.GetNamespace() != s.Namespace {
					t.Errorf("%s %s binds %s %s/%s: want a ServiceAccount of the build", kind, rb.Name, s.Kind, s.Namespace, s.Name)
				}
			}
		}
	}
}

// The three Deployments every install runs, two replicas each, each kept at one at least through
// voluntary disruptions.
var highlyAvailable = []string{"kfgate-controlplane", "kfgate-authn", "kfgate-envoy"}

// TestReplicas: two replicas for the control plane, authn and Envoy, a PodDisruptionBudget for each,
// and leader election for the control plane.
func TestReplicas(t *testing.T) {
	for _, b := range variants {
		t.Run(b.name, func(t *testing.T) {
			out := render(t, b.dir)
			for _, name := range highlyAvailable {
				d := out.deployment(t, name)
				if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
					t.Errorf("Deployment %s: want 2 replicas, got %v", name, d.Spec.Replicas)
				}
				if !covered(t, out, d) {
					t.Errorf("Deployment %s: no PodDisruptionBudget keeps one of its pods", name)
				}
			}
			cp := container(t, out.deployment(t, "kfgate-controlplane"), "controlplane")
			if v, ok := flag(cp.Args, "leader-election"); ok && v != "true" {
				t.Errorf("the control plane runs with --leader-election=%s", v)
			}
			ns, ok := flag(cp.Args, "leader-election-namespace")
			if !ok || ns != "$(POD_NAMESPACE)" || !slices.ContainsFunc(cp.Env, func(e corev1.EnvVar) bool {
				return e.Name == "POD_NAMESPACE" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace"
			}) {
				t.Errorf("the control plane's Lease must be in its own namespace: --leader-election-namespace=$(POD_NAMESPACE) from metadata.namespace, got %q", ns)
			}
		})
	}
}

func covered(t *testing.T, out *output, d *appsv1.Deployment) bool {
	t.Helper()
	for _, u := range out.ofKind("PodDisruptionBudget") {
		pdb := convert[policyv1.PodDisruptionBudget](t, u)
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		if pdb.Namespace == d.Namespace && sel.Matches(labels.Set(d.Spec.Template.Labels)) &&
			pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.IntValue() >= 1 {
			return true
		}
	}
	return false
}

// TestServicePorts: every Service with a selector selects a pod template of the build, and each of
// its target ports is a port of that pod's containers; every NetworkPolicy port too.
func TestServicePorts(t *testing.T) {
	for _, b := range variants {
		t.Run(b.name, func(t *testing.T) {
			out := render(t, b.dir)
			deps := out.deployments(t)
			for _, svc := range out.services(t) {
				if len(svc.Spec.Selector) == 0 {
					continue
				}
				pods := selected(deps, svc.Namespace, labels.SelectorFromSet(svc.Spec.Selector))
				if len(pods) == 0 {
					t.Errorf("Service %s selects no pod of the build", svc.Name)
				}
				for _, p := range svc.Spec.Ports {
					target := p.TargetPort
					if target.Type == intstr.Int && target.IntVal == 0 {
						target = intstr.FromInt32(p.Port)
					}
					for _, pod := range pods {
						if !slices.ContainsFunc(pod.Containers, func(c corev1.Container) bool { return portMatches(c, target) }) {
							t.Errorf("Service %s port %s: target %s is no container port", svc.Name, p.Name, target.String())
						}
					}
				}
			}
			for _, u := range out.ofKind("NetworkPolicy") {
				np := convert[networkingv1.NetworkPolicy](t, u)
				sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
				if err != nil {
					t.Fatal(err)
				}
				pods := selected(deps, np.Namespace, sel)
				if len(pods) == 0 || sel.Empty() {
					t.Errorf("NetworkPolicy %s must select some of kfgate's pods, and only those", np.Name)
				}
				for _, rule := range np.Spec.Ingress {
					for _, p := range rule.Ports {
						if p.Port == nil || !slices.ContainsFunc(pods, func(s corev1.PodSpec) bool {
							return slices.ContainsFunc(s.Containers, func(c corev1.Container) bool { return portMatches(c, *p.Port) })
						}) {
							t.Errorf("NetworkPolicy %s: port %v is no port of the pods it selects", np.Name, p.Port)
						}
					}
				}
			}
		})
	}
}

func selected(deps []*appsv1.Deployment, ns string, sel labels.Selector) []corev1.PodSpec {
	var out []corev1.PodSpec
	for _, d := range deps {
		if d.Namespace == ns && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			out = append(out, d.Spec.Template.Spec)
		}
	}
	return out
}

// TestRestrictedProblems keeps the checker honest: each violation is found.
func TestRestrictedProblems(t *testing.T) {
	good := func() corev1.PodSpec {
		yes, no := true, false
		return corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{Name: "c", SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: &no, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			}}},
		}
	}
	if p := restrictedProblems(good()); len(p) != 0 {
		t.Fatalf("a restricted pod: %q", p)
	}
	for name, breakIt := range map[string]func(*corev1.PodSpec){
		"hostNetwork": func(s *corev1.PodSpec) { s.HostNetwork = true },
		"hostPath": func(s *corev1.PodSpec) {
			s.Volumes = []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
		},
		"root":         func(s *corev1.PodSpec) { s.SecurityContext.RunAsNonRoot = nil },
		"escalation":   func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil },
		"capabilities": func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.Capabilities.Drop = nil },
		"added": func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		},
		"seccomp": func(s *corev1.PodSpec) { s.SecurityContext.SeccompProfile = nil },
		"unconfined": func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		},
		"privileged": func(s *corev1.PodSpec) { yes := true; s.Containers[0].SecurityContext.Privileged = &yes },
		"hostPort": func(s *corev1.PodSpec) {
			s.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}}
		},
		"initContainer":  func(s *corev1.PodSpec) { s.InitContainers = []corev1.Container{{Name: "i"}} },
		"containerRoot0": func(s *corev1.PodSpec) { zero := int64(0); s.Containers[0].SecurityContext.RunAsUser = &zero },
	} {
		spec := good()
		breakIt(&spec)
		if len(restrictedProblems(spec)) == 0 {
			t.Errorf("%s: not found", name)
		}
	}
}
