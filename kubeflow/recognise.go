package kubeflow

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Options adjust recognition.
type Options struct {
	// ModelName, when set, names the model and wins over annotations, labels, flags and the Service
	// name (the CLI's --model-name).
	ModelName string
}

// Recognise decides whether svc is a model server kfgate exposes. pods are candidates for the
// Service's pods: those its selector does not select (other namespace, other labels, terminating
// or finished) are ignored, so a caller may pass every pod of the namespace. An error is a mistake
// in the Service's kfgate labels or annotations (or in opts), never a reason to guess.
func Recognise(svc *corev1.Service, pods []corev1.Pod, opts Options) (Recognition, error) {
	if svc == nil {
		return Recognition{}, errors.New("kubeflow: Recognise needs a Service, got nil")
	}
	if svc.Name == "" {
		return Recognition{}, &FieldError{Field: "metadata.name", Message: "is required"}
	}
	if opts.ModelName != "" {
		if err := checkModelName(opts.ModelName, "model name"); err != nil {
			return Recognition{}, err
		}
	}
	why, err := optedOut(svc)
	if err != nil {
		return Recognition{}, err
	}
	if why != "" {
		return Recognition{Status: StatusOptedOut, Reasons: []string{why}}, nil
	}
	if _, ok := svc.Labels[LabelInferenceService]; ok {
		return recogniseKServe(svc, pods, opts)
	}
	return recogniseTFServing(svc, selectedPods(svc, pods, svc.Spec.Selector), opts)
}

// optedOut reads kfgate.io/expose from the annotations and the labels; either saying "false" wins.
func optedOut(svc *corev1.Service) (string, error) {
	for _, src := range []struct {
		kind, field string
		values      map[string]string
	}{{"annotation", annotationField(KeyExpose), svc.Annotations}, {"label", labelField(KeyExpose), svc.Labels}} {
		v, ok := src.values[KeyExpose]
		if !ok {
			continue
		}
		if v != "true" && v != "false" {
			return "", &FieldError{Field: src.field, Value: v, Message: `want "true" or "false"`}
		}
		if v == "false" {
			return fmt.Sprintf("%s %s=false: opted out", src.kind, KeyExpose), nil
		}
	}
	return "", nil
}

// setting is a kfgate label or annotation found on a Service.
type setting struct {
	value, field string
	kind         string // "annotation" or "label"
}

// says is "label kfgate.io/model-server=tf-serving", for reasons.
func (s setting) says(key string) string { return s.kind + " " + key + "=" + s.value }

// lookup returns key's value from the annotations first, then the labels.
func lookup(svc *corev1.Service, key string) (setting, bool) {
	if v, found := svc.Annotations[key]; found {
		return setting{value: v, field: annotationField(key), kind: "annotation"}, true
	}
	if v, found := svc.Labels[key]; found {
		return setting{value: v, field: labelField(key), kind: "label"}, true
	}
	return setting{}, false
}

// modelNameRE: what fits in one path segment, a Mapping name and TF Serving's and KServe's model
// names (TF Serving's classic example is half_plus_two).
var modelNameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$`)

func checkModelName(name, field string) error {
	if modelNameRE.MatchString(name) {
		return nil
	}
	return &FieldError{Field: field, Value: name,
		Message: "a model name must be 1-63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit"}
}

// explicitName is the model name the caller or the Service states: opts, then kfgate.io/model-name.
func explicitName(svc *corev1.Service, opts Options) (name, why string, err error) {
	if opts.ModelName != "" {
		return opts.ModelName, "model name " + opts.ModelName + ": given by the caller", nil
	}
	if st, ok := lookup(svc, KeyModelName); ok {
		if err := checkModelName(st.value, st.field); err != nil {
			return "", "", err
		}
		return st.value, "model name " + st.value + ": from " + st.says(KeyModelName), nil
	}
	return "", "", nil
}

// restPortOverride reads kfgate.io/rest-port: the Service port, by name or number, that serves REST.
func restPortOverride(svc *corev1.Service) (*corev1.ServicePort, error) {
	v, ok := svc.Annotations[KeyRESTPort]
	if !ok {
		return nil, nil
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.Name == v || strconv.Itoa(int(p.Port)) == v {
			return p, checkPort(p, i)
		}
	}
	return nil, &FieldError{Field: annotationField(KeyRESTPort), Value: v, Message: "names no port of the Service (" + portList(svc.Spec.Ports) + ")"}
}

// checkPort rejects a port number Kubernetes would not have accepted (offline files are not validated).
func checkPort(p *corev1.ServicePort, i int) error {
	if p.Port < 1 || p.Port > 65535 {
		return &FieldError{Field: fmt.Sprintf("spec.ports[%d].port", i), Value: strconv.Itoa(int(p.Port)), Message: "must be 1-65535"}
	}
	return nil
}

func portIndex(svc *corev1.Service, p *corev1.ServicePort) int {
	for i := range svc.Spec.Ports {
		if &svc.Spec.Ports[i] == p {
			return i
		}
	}
	return -1
}

// describePort is "http-tf-serving (8500)", or "8500" for an unnamed port.
func describePort(p *corev1.ServicePort) string {
	if p.Name == "" {
		return strconv.Itoa(int(p.Port))
	}
	return fmt.Sprintf("%s (%d)", p.Name, p.Port)
}

func portList(ports []corev1.ServicePort) string {
	if len(ports) == 0 {
		return "it has none"
	}
	var out []string
	for i := range ports {
		out = append(out, describePort(&ports[i]))
	}
	return strings.Join(out, ", ")
}

// isGRPCName: port names that say gRPC (Kubeflow's, Istio's grpc-* convention, Knative's h2c).
func isGRPCName(name string) bool {
	return name == "grpc" || name == "h2c" || name == "tf-serving" || name == "grpc-tf-serving" ||
		strings.HasPrefix(name, "grpc-") || strings.HasSuffix(name, "-grpc")
}

func grpcPorts(svc *corev1.Service) []string {
	var out []string
	for i := range svc.Spec.Ports {
		if isGRPCName(svc.Spec.Ports[i].Name) {
			out = append(out, describePort(&svc.Spec.Ports[i]))
		}
	}
	return out
}

func exposed(m *Model, reasons []string) Recognition {
	return Recognition{Status: StatusExposed, Model: m, Reasons: reasons}
}

func notExposed(m *Model, reasons []string, why string) Recognition {
	m.Port = 0
	return Recognition{Status: StatusNotExposed, Model: m, Reasons: append(reasons, "not exposed: "+why)}
}
