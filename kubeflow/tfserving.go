package kubeflow

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Kubeflow's TF Serving port names. 0.1-0.2: tf-serving (gRPC 9000) and tf-serving-proxy (HTTP proxy
// 8000); 0.3: tf-serving and tf-serving-builtin-http (REST 8500); 0.4-0.5: grpc-tf-serving and
// http-tf-serving (REST 8500).
var (
	tfRESTNames = []string{"http-tf-serving", "tf-serving-builtin-http"}
	tfProxyName = "tf-serving-proxy"
	tfGRPCNames = []string{"grpc-tf-serving", "tf-serving"}
)

func isTFName(name string) bool {
	return slices.Contains(tfRESTNames, name) || name == tfProxyName || slices.Contains(tfGRPCNames, name)
}

// isHTTPName: generic REST port names, trusted on a Service known to be TF Serving only when its
// pods are not visible (a visible server says for itself where REST is).
func isHTTPName(name string) bool {
	return name == "http" || name == "rest" || strings.HasPrefix(name, "http-") || strings.HasPrefix(name, "rest-")
}

func recogniseTFServing(svc *corev1.Service, pods []*corev1.Pod, opts Options) (Recognition, error) {
	servers, err := tfServers(pods)
	if err != nil {
		return Recognition{}, err
	}
	reasons, err := whyTFServing(svc, servers)
	if err != nil {
		return Recognition{}, err
	}
	if len(reasons) == 0 {
		return Recognition{Status: StatusNotModelServer, Reasons: []string{
			"no port has a Kubeflow TF Serving name (http-tf-serving, tf-serving-builtin-http, tf-serving-proxy, grpc-tf-serving, tf-serving), " +
				"no selected pod runs tensorflow_model_server, no " + KeyModelServer + " label, and no " + LabelInferenceService + " label"}}, nil
	}
	var srv *tfServer
	if len(servers) > 0 {
		srv = servers[0]
		for _, o := range servers[1:] {
			if o.modelName != srv.modelName || o.restPort != srv.restPort {
				reasons = append(reasons, fmt.Sprintf("pods disagree on --model_name or --rest_api_port: using the newest, %s", srv.pod))
				break
			}
		}
	}
	m := &Model{Kind: KindTFServing, Namespace: svc.Namespace, Service: svc.Name, Created: svc.CreationTimestamp.Time}
	name, why, err := tfModelName(svc, srv, opts)
	if err != nil {
		return Recognition{}, err
	}
	m.Name, reasons = name, append(reasons, why)
	return tfPort(svc, srv, m, reasons)
}

func whyTFServing(svc *corev1.Service, servers []*tfServer) ([]string, error) {
	var reasons []string
	if st, ok := lookup(svc, KeyModelServer); ok {
		if st.value != ModelServerTFServing {
			return nil, &FieldError{Field: st.field, Value: st.value,
				Message: `want "tf-serving" (KServe predictors are recognised by KServe's own labels)`}
		}
		reasons = append(reasons, st.says(KeyModelServer)+": opted in as TF Serving")
	}
	for i := range svc.Spec.Ports {
		if p := &svc.Spec.Ports[i]; isTFName(p.Name) {
			reasons = append(reasons, "port "+describePort(p)+" has a Kubeflow TF Serving name")
		}
	}
	if len(servers) > 0 {
		s := servers[0]
		if s.image {
			reasons = append(reasons, s.where()+" runs the tensorflow/serving image (its entrypoint: tensorflow_model_server --port=8500 --rest_api_port=8501)")
		} else {
			reasons = append(reasons, s.where()+" runs tensorflow_model_server")
		}
	}
	return reasons, nil
}

// tfModelName: the caller's name, kfgate.io/model-name, --model_name, else the Service's name.
func tfModelName(svc *corev1.Service, srv *tfServer, opts Options) (name, why string, err error) {
	if name, why, err := explicitName(svc, opts); err != nil || name != "" {
		return name, why, err
	}
	if srv != nil && srv.modelName != "" && !srv.configFile {
		field := fmt.Sprintf("Pod %s, container %s, %s", srv.pod, srv.container, srv.nameFrom)
		if err := checkModelName(srv.modelName, field); err != nil {
			return "", "", err
		}
		return srv.modelName, fmt.Sprintf("model name %s: from %s of %s", srv.modelName, srv.nameFrom, srv.where()), nil
	}
	why = "model name " + svc.Name + ": the Service's name"
	if srv != nil && srv.configFile {
		why += fmt.Sprintf(" (%s serves a --model_config_file; set %s to choose its model)", srv.where(), KeyModelName)
	}
	return svc.Name, why, nil
}

// tfPort finds the REST port: kfgate.io/rest-port, the port targeting the server's --rest_api_port,
// a Kubeflow REST port name, a generic HTTP name (server not visible), Kubeflow's HTTP proxy.
func tfPort(svc *corev1.Service, srv *tfServer, m *Model, reasons []string) (Recognition, error) {
	m.Protocol = ProtocolTFServing
	p, err := restPortOverride(svc)
	var why string
	switch {
	case err != nil:
		return Recognition{}, err
	case p != nil:
		why = "REST port " + describePort(p) + ": from annotation " + KeyRESTPort
	case srv != nil && srv.restPort > 0:
		if p = servicePortTargeting(svc, srv, srv.restPort); p == nil {
			m.Protocol = ProtocolGRPC
			return notExposed(m, reasons, fmt.Sprintf("%s serves REST on container port %d (--rest_api_port), but no port of the Service targets it (%s); set a port's targetPort to %d",
				srv.where(), srv.restPort, portList(svc.Spec.Ports), srv.restPort)), nil
		}
		why = fmt.Sprintf("REST port %s: targets --rest_api_port=%d of %s", describePort(p), srv.restPort, srv.where())
	default:
		p, why = namedRESTPort(svc, srv)
	}
	if p == nil {
		m.Protocol = ProtocolGRPC
		return notExposed(m, reasons, noRESTReason(svc, srv)), nil
	}
	if err := checkPort(p, portIndex(svc, p)); err != nil {
		return Recognition{}, err
	}
	if p.Name == tfProxyName {
		m.Protocol = ProtocolTFServingProxy
	}
	m.Port = p.Port
	return exposed(m, append(reasons, why)), nil
}

func namedRESTPort(svc *corev1.Service, srv *tfServer) (*corev1.ServicePort, string) {
	ports := svc.Spec.Ports
	for i := range ports {
		if slices.Contains(tfRESTNames, ports[i].Name) {
			return &ports[i], "REST port " + describePort(&ports[i]) + ": Kubeflow's TF Serving REST port name"
		}
	}
	for i := range ports {
		if srv == nil && isHTTPName(ports[i].Name) {
			return &ports[i], "REST port " + describePort(&ports[i]) + ": an HTTP port name on a TF Serving Service"
		}
	}
	for i := range ports {
		if ports[i].Name == tfProxyName {
			return &ports[i], "HTTP port " + describePort(&ports[i]) + ": the HTTP proxy of Kubeflow 0.1-0.2 (/model/<name>:predict)"
		}
	}
	return nil, ""
}

func noRESTReason(svc *corev1.Service, srv *tfServer) string {
	var why string
	switch grpc := grpcPorts(svc); {
	case len(svc.Spec.Ports) == 0:
		why = "the Service has no ports"
	case len(grpc) == len(svc.Spec.Ports):
		why = "the Service has only gRPC ports (" + strings.Join(grpc, ", ") + ") and kfgate routes REST"
	default:
		why = "no port of the Service is known to serve REST (" + portList(svc.Spec.Ports) + ")"
	}
	if srv != nil && srv.restPort == 0 {
		return why + "; " + srv.where() + " runs tensorflow_model_server without --rest_api_port, so REST is off"
	}
	return why + "; name the REST port http-tf-serving or set annotation " + KeyRESTPort
}
