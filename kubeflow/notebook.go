package kubeflow

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kfgate/kfgate/gateway/mapping"
)

// Kubeflow's notebook controller creates, for every Notebook, a Service of the same name that the
// Notebook controls (an ownerReference), with one port, http-<name> on 80, and routes
// /notebook/<namespace>/<name>/ to it. These are the facts kfgate recognises it by and routes it with.
const (
	NotebookGroup = "kubeflow.org"
	NotebookKind  = "Notebook"
	// NotebookPort is the Service port Kubeflow gives every notebook (its target is the container's).
	NotebookPort = 80
	// NotebookTimeoutMS is Kubeflow's route timeout for notebooks (300 s, as its VirtualService and
	// its Ambassador-era Mapping have it): time to a response, not a limit on a kernel's websocket.
	NotebookTimeoutMS = 300000
	// NotebookMappingPrefix starts the name of a notebook's generated Mapping: notebook-<name>.
	NotebookMappingPrefix = "notebook-"
)

// Annotations on a Notebook (not its Service) that its route follows, as Kubeflow's notebook
// controller does: the Jupyter web app sets them for VS Code (rewrite /) and RStudio (rewrite / and
// X-RStudio-Root-Path).
const (
	// AnnotationNotebookRewrite is the upstream path prefix, instead of the route's own path.
	AnnotationNotebookRewrite = "notebooks.kubeflow.org/http-rewrite-uri"
	// AnnotationNotebookHeaders is a JSON object of request headers to set.
	AnnotationNotebookHeaders = "notebooks.kubeflow.org/http-headers-request-set"
	// NotebookAnnotationPrefix is what the two share: the only annotations of a Notebook kfgate keeps.
	NotebookAnnotationPrefix = "notebooks.kubeflow.org/"
)

// IsNotebookAnnotation says whether a Notebook's annotation is one kfgate reads (and so keeps).
func IsNotebookAnnotation(key string) bool { return strings.HasPrefix(key, NotebookAnnotationPrefix) }

// Event reasons for notebooks' Services: a Notebook whose route cannot be generated, and a generated
// annotation another writer holds.
const (
	ReasonInvalidNotebook  = "InvalidNotebook"
	ReasonNotebookConflict = "NotebookRouteConflict"
)

// Notebook is a Kubeflow notebook server, recognised by its Service.
type Notebook struct {
	Name      string `json:"name" yaml:"name"` // the Notebook's, in the path
	Namespace string `json:"namespace" yaml:"namespace"`
	Service   string `json:"service" yaml:"service"`
	Port      int32  `json:"port" yaml:"port"`
	// Rewrite is the upstream path prefix; "" keeps the path (Jupyter serves under its NB_PREFIX).
	Rewrite string `json:"rewrite,omitempty" yaml:"rewrite,omitempty"`
	// Headers are set (replacing what the client sent) on every request to the notebook.
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`
}

// Key is "namespace/service", as for models.
func (n Notebook) Key() string { return n.Namespace + "/" + n.Service }

// Path is where Kubeflow serves the notebook: /notebook/<namespace>/<name>/.
func (n Notebook) Path() string { return "/notebook/" + n.Namespace + "/" + n.Name + "/" }

// NotebookOwner returns the Notebook that controls svc, if one does. Only the controller reference
// counts: anyone may add a plain ownerReference to their Service.
func NotebookOwner(svc *corev1.Service) (metav1.OwnerReference, bool) {
	for _, o := range svc.OwnerReferences {
		if o.Controller == nil || !*o.Controller || o.Kind != NotebookKind {
			continue
		}
		if gv, err := schema.ParseGroupVersion(o.APIVersion); err == nil && gv.Group == NotebookGroup {
			return o, true
		}
	}
	return metav1.OwnerReference{}, false
}

// IsNotebookService reports whether svc is a notebook's Service, so that nothing else (the model
// recognition) is tried on it.
func IsNotebookService(svc *corev1.Service) bool {
	_, ok := NotebookOwner(svc)
	return ok
}

// RecogniseNotebook decides whether svc is a notebook server kfgate routes. nbAnnotations are the
// controlling Notebook's annotations (nil when they cannot be read: the defaults apply). Like
// Recognise, an error names the field at fault; a Service opted out with kfgate.io/expose: "false",
// or not a notebook's, is a Recognition without a Notebook.
func RecogniseNotebook(svc *corev1.Service, nbAnnotations map[string]string) (NotebookRecognition, error) {
	owner, ok := NotebookOwner(svc)
	if !ok {
		return NotebookRecognition{Reasons: []string{"no Notebook controls the Service"}}, nil
	}
	why, err := optedOut(svc)
	if err != nil {
		return NotebookRecognition{}, err
	}
	if why != "" {
		return NotebookRecognition{Reasons: []string{why}}, nil
	}
	reasons := []string{fmt.Sprintf("controlled by %s %s/%s", NotebookKind, svc.Namespace, owner.Name)}
	if err := checkObjectName(owner.Name, "metadata.ownerReferences[Notebook].name"); err != nil {
		return NotebookRecognition{}, err
	}
	if err := checkObjectName(svc.Namespace, "metadata.namespace"); err != nil {
		return NotebookRecognition{}, err
	}
	n := &Notebook{Name: owner.Name, Namespace: svc.Namespace, Service: svc.Name}
	p, why, err := notebookPort(svc, owner.Name)
	if err != nil {
		return NotebookRecognition{}, err
	}
	n.Port, reasons = p, append(reasons, why)
	if n.Rewrite, err = notebookRewrite(nbAnnotations); err != nil {
		return NotebookRecognition{}, err
	}
	if n.Rewrite != "" {
		reasons = append(reasons, fmt.Sprintf("upstream path %s: from the Notebook's %s", n.Rewrite, AnnotationNotebookRewrite))
	}
	if n.Headers, err = notebookHeaders(nbAnnotations); err != nil {
		return NotebookRecognition{}, err
	}
	if len(n.Headers) > 0 {
		reasons = append(reasons, fmt.Sprintf("request headers %s: from the Notebook's %s", strings.Join(sortedKeys(n.Headers), ", "), AnnotationNotebookHeaders))
	}
	return NotebookRecognition{Notebook: n, Reasons: reasons}, nil
}

// NotebookRecognition is the verdict on one Service as a notebook: Notebook is set when it is routed.
type NotebookRecognition struct {
	Notebook *Notebook `json:"notebook,omitempty"`
	Reasons  []string  `json:"reasons"`
}

// notebookPort: the port named http-<notebook> (Kubeflow's), else port 80, else the Service's only port.
func notebookPort(svc *corev1.Service, name string) (int32, string, error) {
	var pick *corev1.ServicePort
	var why string
	for i := range svc.Spec.Ports {
		if p := &svc.Spec.Ports[i]; p.Name == "http-"+name {
			pick, why = p, "Kubeflow's notebook port name"
			break
		}
	}
	for i := range svc.Spec.Ports {
		if p := &svc.Spec.Ports[i]; pick == nil && p.Port == NotebookPort {
			pick, why = p, "Kubeflow's notebook port number"
		}
	}
	if pick == nil && len(svc.Spec.Ports) == 1 {
		pick, why = &svc.Spec.Ports[0], "the Service's only port"
	}
	if pick == nil {
		return 0, "", &FieldError{Field: "spec.ports", Value: portList(svc.Spec.Ports),
			Message: fmt.Sprintf("a notebook's Service needs the port http-%s, port %d or a single port", name, NotebookPort)}
	}
	if err := checkPort(pick, portIndex(svc, pick)); err != nil {
		return 0, "", err
	}
	return pick.Port, "port " + describePort(pick) + ": " + why, nil
}

// checkObjectName: a Kubernetes object name (DNS-1123 subdomain) is also a safe path segment.
func checkObjectName(name, field string) error {
	if mapping.IsObjectName(name) {
		return nil
	}
	return &FieldError{Field: field, Value: name, Message: "not a Kubernetes object name (lower-case letters, digits, '-' and '.')"}
}

// notebookField is where a Notebook annotation is, for errors.
func notebookField(key string) string { return "Notebook " + annotationField(key) }

// rewriteRE is an absolute path of unreserved characters and sub-delimiters a prefix may safely
// carry: no query, fragment, percent-escape or backslash.
var rewriteRE = regexp.MustCompile(`^/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$`)

func notebookRewrite(a map[string]string) (string, error) {
	v, ok := a[AnnotationNotebookRewrite]
	if !ok || v == "" { // Kubeflow treats an empty value as unset
		return "", nil
	}
	if len(v) > 1024 || !rewriteRE.MatchString(v) || slices.Contains(strings.Split(v, "/"), "..") || slices.Contains(strings.Split(v, "/"), ".") {
		return "", &FieldError{Field: notebookField(AnnotationNotebookRewrite), Value: v,
			Message: "must be an absolute path of at most 1024 letters, digits and -._~!$&'()*+,;=:@/, without . or .. segments"}
	}
	return v, nil
}

func notebookHeaders(a map[string]string) (map[string]string, error) {
	v, ok := a[AnnotationNotebookHeaders]
	if !ok || strings.TrimSpace(v) == "" {
		return nil, nil
	}
	field := notebookField(AnnotationNotebookHeaders)
	if len(v) > 8192 {
		return nil, &FieldError{Field: field, Value: v[:64] + "...", Message: "longer than 8192 bytes"}
	}
	var raw map[string]string
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, &FieldError{Field: field, Value: v, Message: "must be a JSON object of header names to string values: " + err.Error()}
	}
	if len(raw) > 32 {
		return nil, &FieldError{Field: field, Value: v, Message: "sets more than 32 headers"}
	}
	out := make(map[string]string, len(raw))
	for name, val := range raw {
		lower := strings.ToLower(name)
		switch {
		case len(lower) > 128 || !mapping.IsHeaderName(lower):
			return nil, &FieldError{Field: field, Value: name, Message: "not an HTTP header name"}
		case mapping.GatewayHeader(lower):
			return nil, &FieldError{Field: field, Value: name, Message: "the gateway sets this header; a notebook may not"}
		case strings.ContainsAny(val, "\r\n\x00") || len(val) > 4096:
			return nil, &FieldError{Field: field, Value: name, Message: "a header value may not hold CR, LF or NUL, nor exceed 4096 bytes"}
		}
		if _, dup := out[lower]; dup {
			return nil, &FieldError{Field: field, Value: name, Message: "set twice (header names are case-insensitive)"}
		}
		out[lower] = val
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
