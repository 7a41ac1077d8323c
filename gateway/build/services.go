package build

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source"
)

// ApplyService sets a Service read from the API server together with the configuration texts in its
// annotations: texts of annotation keys it no longer carries are forgotten, unchanged texts are not
// decoded again.
func (e *Engine) ApplyService(svc *corev1.Service) {
	texts := source.ServiceTexts(svc, "", nil)
	have := make(map[string]bool, len(texts))
	for _, t := range texts {
		have[t.Source.Key] = true
		e.SetText(t)
	}
	for _, key := range mapping.AnnotationKeys {
		if !have[key] {
			e.DeleteText(mapping.Source{Kind: "Service", Namespace: svc.Namespace, Name: svc.Name, Key: key})
		}
	}
	e.SetService(svc)
}

// RemoveService forgets a Service and the texts of its annotations.
func (e *Engine) RemoveService(namespace, name string) {
	for _, key := range mapping.AnnotationKeys {
		e.DeleteText(mapping.Source{Kind: "Service", Namespace: namespace, Name: name, Key: key})
	}
	e.DeleteService(namespace, name)
}
