package kubeflow

import (
	"fmt"
	"path"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// recogniseKServe handles a Service labelled serving.kserve.io/inferenceservice: a model server only
// if it is the predictor's own Service, <isvc>-predictor (legacy <isvc>-predictor-default), not a
// transformer's or a Knative revision's (<isvc>-predictor-00001, ...-private), which carry the same labels.
func recogniseKServe(svc *corev1.Service, pods []corev1.Pod, opts Options) (Recognition, error) {
	isvc := svc.Labels[LabelInferenceService]
	if comp := svc.Labels[LabelComponent]; comp != ComponentPredictor {
		return Recognition{Status: StatusNotModelServer, Reasons: []string{
			fmt.Sprintf("KServe InferenceService %s: %s=%q, not %s", isvc, LabelComponent, comp, ComponentPredictor)}}, nil
	}
	if svc.Name != isvc+"-predictor" && svc.Name != isvc+"-predictor-default" {
		return Recognition{Status: StatusNotModelServer, Reasons: []string{
			fmt.Sprintf("KServe InferenceService %s: Service %s is not its predictor Service (%s-predictor, or legacy %s-predictor-default); "+
				"Knative revisions' Services carry the same labels", isvc, svc.Name, isvc, isvc)}}, nil
	}
	reasons := []string{fmt.Sprintf("labels %s=%s, %s=%s: the predictor of a KServe InferenceService", LabelInferenceService, isvc, LabelComponent, ComponentPredictor)}
	m := &Model{Kind: KindKServe, Namespace: svc.Namespace, Service: svc.Name, Created: svc.CreationTimestamp.Time}
	name, why, err := explicitName(svc, opts)
	if err != nil {
		return Recognition{}, err
	}
	if name == "" {
		if err := checkModelName(isvc, labelField(LabelInferenceService)); err != nil {
			return Recognition{}, err
		}
		name, why = isvc, "model name "+isvc+": the InferenceService's name"
	}
	m.Name, reasons = name, append(reasons, why)

	selector := svc.Spec.Selector
	if len(selector) == 0 { // Knative's ExternalName predictor Service selects nothing: find the pods by KServe's labels
		selector = map[string]string{LabelInferenceService: isvc, LabelComponent: ComponentPredictor}
	}
	proto, why, err := kserveProtocol(svc, selectedPods(svc, pods, selector))
	if err != nil {
		return Recognition{}, err
	}
	m.Protocol, reasons = proto, append(reasons, why)
	if proto == ProtocolGRPC {
		return notExposed(m, reasons, "the predictor speaks gRPC only; kfgate routes REST"), nil
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		m.HostRewrite = svc.Name + "." + svc.Namespace + ".svc"
		reasons = append(reasons, fmt.Sprintf("ExternalName Service (Knative, to %s): requests carry Host %s", svc.Spec.ExternalName, m.HostRewrite))
	}
	return kservePort(svc, m, reasons)
}

// kserveProtocol: kfgate.io/protocol; else the predictor pods' PROTOCOL or PROTOCOL_VERSION
// environment variable (set by KServe); else a server that speaks only v2 (tritonserver, mlserver);
// else KServe's default, v1.
func kserveProtocol(svc *corev1.Service, pods []*corev1.Pod) (Protocol, string, error) {
	if st, ok := lookup(svc, KeyProtocol); ok {
		switch st.value {
		case "v1":
			return ProtocolKServeV1, "protocol v1: from " + st.says(KeyProtocol), nil
		case "v2":
			return ProtocolKServeV2, "protocol v2: from " + st.says(KeyProtocol), nil
		}
		return "", "", &FieldError{Field: st.field, Value: st.value, Message: `want "v1" or "v2"`}
	}
	for _, p := range pods {
		for _, c := range kserveContainers(p) {
			for _, e := range c.Env {
				if e.Name != "PROTOCOL" && e.Name != "PROTOCOL_VERSION" {
					continue
				}
				if proto, ok := map[string]Protocol{"v1": ProtocolKServeV1, "v2": ProtocolKServeV2,
					"grpc-v1": ProtocolGRPC, "grpc-v2": ProtocolGRPC}[e.Value]; ok {
					return proto, fmt.Sprintf("protocol %s: from %s=%s of pod %s (container %s)", e.Value, e.Name, e.Value, p.Name, c.Name), nil
				}
			}
			for _, t := range slices.Concat(c.Command, c.Args) {
				if b := path.Base(t); b == "tritonserver" || b == "mlserver" {
					return ProtocolKServeV2, fmt.Sprintf("protocol v2: pod %s (container %s) runs %s, which speaks v2", p.Name, c.Name, b), nil
				}
			}
		}
	}
	return ProtocolKServeV1, "protocol v1: KServe's default (nothing says otherwise; set " + KeyProtocol + ": v2 for an Open Inference Protocol server)", nil
}

// kserveContainers puts KServe's model server container first.
func kserveContainers(p *corev1.Pod) []*corev1.Container {
	var out []*corev1.Container
	for i := range p.Spec.Containers {
		if c := &p.Spec.Containers[i]; c.Name == "kserve-container" {
			out = append([]*corev1.Container{c}, out...)
		} else {
			out = append(out, c)
		}
	}
	return out
}

// kservePort: kfgate.io/rest-port; else port 80, where KServe (and Knative) put the predictor's HTTP
// port; else the first port whose name does not say gRPC.
func kservePort(svc *corev1.Service, m *Model, reasons []string) (Recognition, error) {
	p, err := restPortOverride(svc)
	if err != nil {
		return Recognition{}, err
	}
	why := ": from annotation " + KeyRESTPort
	if p == nil {
		for i := range svc.Spec.Ports {
			if q := &svc.Spec.Ports[i]; !isGRPCName(q.Name) && (p == nil || q.Port == 80 && p.Port != 80) {
				p = q
			}
		}
		if p == nil {
			m.Protocol = ProtocolGRPC
			if len(svc.Spec.Ports) == 0 {
				return notExposed(m, reasons, "the Service has no ports"), nil
			}
			return notExposed(m, reasons, "the Service has only gRPC ports ("+portList(svc.Spec.Ports)+"); set annotation "+KeyRESTPort+" if one serves REST"), nil
		}
		why = ": the predictor's HTTP port"
	}
	why = "REST port " + describePort(p) + why
	if err := checkPort(p, portIndex(svc, p)); err != nil {
		return Recognition{}, err
	}
	m.Port = p.Port
	return exposed(m, append(reasons, why)), nil
}
