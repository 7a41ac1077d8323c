package kubeflow

import (
	"fmt"
	"time"
)

// Labels and annotations kfgate reads on Services. Where both exist, the annotation wins.
const (
	// KeyExpose set to "false" (annotation or label) keeps a Service out, whatever it runs.
	KeyExpose = "kfgate.io/expose"
	// KeyModelServer (label or annotation) opts a Service in: its only value is "tf-serving".
	KeyModelServer = "kfgate.io/model-server"
	// KeyModelName (annotation or label) names the model, overriding flags and the Service name.
	KeyModelName = "kfgate.io/model-name"
	// KeyRESTPort (annotation) names the Service port (by name or number) that serves REST.
	KeyRESTPort = "kfgate.io/rest-port"
	// KeyProtocol (annotation or label) sets a KServe predictor's protocol: "v1" or "v2".
	KeyProtocol = "kfgate.io/protocol"

	// ModelServerTFServing is the value of KeyModelServer that opts a Service in as TF Serving.
	ModelServerTFServing = "tf-serving"
)

// KServe's labels on a predictor Service.
const (
	LabelInferenceService = "serving.kserve.io/inferenceservice"
	LabelComponent        = "component"
	ComponentPredictor    = "predictor"
)

// Kind is the family of model server.
type Kind string

// Kinds of model server.
const (
	KindTFServing Kind = "tf-serving"
	KindKServe    Kind = "kserve"
)

// Protocol is the HTTP API the model server speaks on its REST port.
type Protocol string

// Protocols.
const (
	// ProtocolTFServing is TF Serving's native REST API: /v1/models/<m>[/versions/<v>|/labels/<l>]:predict.
	ProtocolTFServing Protocol = "tf-serving-rest"
	// ProtocolTFServingProxy is the HTTP proxy of Kubeflow 0.1-0.2 (port 8000): /model/<m>:predict.
	ProtocolTFServingProxy Protocol = "tf-serving-proxy"
	// ProtocolKServeV1 is KServe's V1 protocol: /v1/models/<m>:predict, :explain.
	ProtocolKServeV1 Protocol = "kserve-v1"
	// ProtocolKServeV2 is the Open Inference Protocol: /v2/models/<m>[/versions/<v>]/infer, /ready.
	ProtocolKServeV2 Protocol = "kserve-v2"
	// ProtocolGRPC: the server is reachable over gRPC only; kfgate does not route it.
	ProtocolGRPC Protocol = "grpc"
)

// Model is one recognised model server.
type Model struct {
	Kind      Kind   `json:"kind"`
	Name      string `json:"name"` // the model's name: in the path and in the upstream path
	Namespace string `json:"namespace"`
	Service   string `json:"service"` // the Service's name
	// Port is the Service port that serves Protocol over HTTP; 0 when the model is not exposed.
	Port     int32    `json:"port,omitempty"`
	Protocol Protocol `json:"protocol"`
	// HostRewrite is the Host sent upstream, set when the Service is an ExternalName whose target
	// routes by Host (a Knative-served KServe predictor).
	HostRewrite string    `json:"hostRewrite,omitempty"`
	Created     time.Time `json:"created,omitzero"` // the Service's creation time: the oldest keeps a contested path
}

// Key is "namespace/service", unique per model.
func (m Model) Key() string { return m.Namespace + "/" + m.Service }

// Status says what Recognise made of a Service.
type Status string

// Statuses. Only StatusExposed gets generated Mappings; for every other status the controller
// removes the generated annotation.
const (
	StatusNotModelServer Status = "NotModelServer"
	StatusOptedOut       Status = "OptedOut"
	// StatusNotExposed: a model server without an HTTP port kfgate can route (gRPC only, REST off).
	StatusNotExposed Status = "NotExposed"
	StatusExposed    Status = "Exposed"
)

// Recognition is the verdict on one Service, with the reasons a person needs to understand it.
type Recognition struct {
	Status  Status   `json:"status"`
	Model   *Model   `json:"model,omitempty"` // set for StatusExposed and StatusNotExposed
	Reasons []string `json:"reasons"`
}

// Exposed reports whether the Service should carry generated Mappings.
func (r Recognition) Exposed() bool { return r.Status == StatusExposed && r.Model != nil }

// FieldError is a mistake in what a Service, a template or the caller tells kfgate. Field names where
// (a JSON path into the Service, or "template", "model name"); the controller turns it into a Warning
// Event with reason ReasonInvalid.
type FieldError struct {
	Field   string
	Value   string
	Message string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %q: %s", e.Field, e.Value, e.Message)
}

// Event reasons for the controller (UpperCamelCase, as Kubernetes wants).
const (
	// ReasonInvalid: Recognise or Generate returned a FieldError.
	ReasonInvalid = "InvalidModelServer"
	// ReasonConflict: Assign gave the model another path than the template's, or none.
	ReasonConflict = "ModelNameConflict"
)

func annotationField(key string) string { return "metadata.annotations[" + key + "]" }
func labelField(key string) string      { return "metadata.labels[" + key + "]" }
