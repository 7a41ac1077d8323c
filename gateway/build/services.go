package build

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source"
)

// ApplyService sets a Service read from the API server together with the configuration texts in its
// annotations: texts of annotation keys it no longer carries are forgotten, unchanged texts are not
// decoded again.
func (e *Engine) ApplyService(svc *corev1.Service) { e.ApplyServices([]*corev1.Service{svc}) }

// ApplyServices is ApplyService for a batch: the texts that changed are decoded in parallel (a cold
// start applies every Service at once).
func (e *Engine) ApplyServices(svcs []*corev1.Service) {
	var texts []source.Text
	for _, svc := range svcs {
		own := source.ServiceTexts(svc, "", nil)
		for _, key := range mapping.AnnotationKeys {
			if !slices.ContainsFunc(own, func(t source.Text) bool { return t.Source.Key == key }) {
				e.DeleteText(mapping.Source{Kind: "Service", Namespace: svc.Namespace, Name: svc.Name, Key: key})
			}
		}
		texts = append(texts, own...)
	}
	e.setTexts(texts)
	for _, svc := range svcs {
		e.SetService(svc)
	}
}

// RemoveService forgets a Service and the texts of its annotations.
func (e *Engine) RemoveService(namespace, name string) {
	for _, key := range mapping.AnnotationKeys {
		e.DeleteText(mapping.Source{Kind: "Service", Namespace: namespace, Name: name, Key: key})
	}
	e.DeleteService(namespace, name)
}

// Services is how many Services the Engine holds.
func (e *Engine) Services() int { return len(e.services) }
