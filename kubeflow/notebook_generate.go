package kubeflow

import (
	"bytes"
	"fmt"

	"github.com/kfgate/kfgate/gateway/mapping"
)

// notebookDoc is a notebook's generated Mapping.
type notebookDoc struct {
	APIVersion   string                 `yaml:"apiVersion"`
	Kind         string                 `yaml:"kind"`
	Name         string                 `yaml:"name"`
	AmbassadorID []string               `yaml:"ambassador_id,omitempty,flow"`
	Prefix       string                 `yaml:"prefix"`
	Rewrite      string                 `yaml:"rewrite"`
	Service      string                 `yaml:"service"`
	TimeoutMS    int                    `yaml:"timeout_ms"`
	UseWebsocket bool                   `yaml:"use_websocket"`
	Headers      map[string]headerValue `yaml:"add_request_headers,omitempty"`
}

type headerValue struct {
	Value  string `yaml:"value"`
	Append bool   `yaml:"append"`
}

// GenerateNotebook returns the text of the kfgate.io/generated-config annotation that serves the
// notebook at /notebook/<namespace>/<name>/ as Kubeflow's notebook controller routes it: the path
// kept (Jupyter serves under its NB_PREFIX) or rewritten to the Notebook's http-rewrite-uri, its
// request headers set, websockets allowed (kernels), and Kubeflow's 300 s timeout. The text is
// checked with kfgate's own decoder before it is returned.
func GenerateNotebook(n Notebook, opts GenerateOptions) (string, error) {
	if n.Port < 1 || n.Port > 65535 {
		return "", &FieldError{Field: "port", Value: fmt.Sprint(n.Port), Message: "must be 1-65535"}
	}
	for _, c := range []struct{ v, field string }{{n.Name, "name"}, {n.Namespace, "namespace"}, {n.Service, "service"}} {
		if err := checkObjectName(c.v, c.field); err != nil {
			return "", err
		}
	}
	if _, err := notebookRewrite(map[string]string{AnnotationNotebookRewrite: n.Rewrite}); err != nil {
		return "", err
	}
	doc := notebookDoc{APIVersion: "getambassador.io/v2", Kind: mapping.KindMapping, Name: NotebookMappingPrefix + n.Name,
		Prefix: n.Path(), Rewrite: n.Path(), Service: fmt.Sprintf("%s.%s:%d", n.Service, n.Namespace, n.Port),
		TimeoutMS: NotebookTimeoutMS, UseWebsocket: true}
	if n.Rewrite != "" {
		doc.Rewrite = n.Rewrite
	}
	if opts.ID != "" && opts.ID != "default" {
		doc.AmbassadorID = []string{opts.ID}
	}
	for k, v := range n.Headers {
		if doc.Headers == nil {
			doc.Headers = map[string]headerValue{}
		}
		doc.Headers[k] = headerValue{Value: v} // set, replacing what the client sent (Istio's headers.request.set)
	}
	var buf bytes.Buffer
	if err := writeDocument(&buf, doc.Name, doc); err != nil {
		return "", err
	}
	// Decoded as a tenant's: the trust rules (gateway headers, own Services, path spaces) are the
	// one check of what a Notebook may ask for.
	src := mapping.Source{Kind: "Service", Namespace: n.Namespace, Name: n.Service, Key: mapping.AnnotationGenerated}
	tenant := mapping.Options{ID: opts.ID, Trusted: func(string) bool { return false }}
	return buf.String(), checkDecodes(src, buf.String(), tenant, 1)
}
