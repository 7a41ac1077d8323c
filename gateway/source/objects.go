// Package source holds the objects kfgate configures itself from (Services, EndpointSlices and bare
// documents) and reads them from files. The Kubernetes watch produces the same Objects.
package source

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/kfgate/kfgate/gateway/ir"
	"github.com/kfgate/kfgate/gateway/mapping"
)

// Text is one configuration text: an annotation value, or a bare document in a file.
type Text struct {
	Source mapping.Source
	Body   string
}

// Objects is one consistent view of the world.
type Objects struct {
	Texts          []Text
	Services       []*corev1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
	// Secrets are the kubernetes.io/tls Secrets TLSContexts may name (the Kubernetes source watches
	// only that type; the file source reads v1 Secret documents and PEM files).
	Secrets []*corev1.Secret
	// Diagnostics found while reading (YAML that is not even an object, unreadable files).
	Diagnostics []mapping.Diagnostic
}

// ServiceTexts returns the configuration texts a Service carries in its annotations. lines, when not
// nil, gives the file line where each annotation's text starts.
func ServiceTexts(svc *corev1.Service, file string, lines map[string]int) []Text {
	var out []Text
	for _, key := range mapping.AnnotationKeys {
		body, ok := svc.Annotations[key]
		if !ok {
			continue
		}
		out = append(out, Text{Source: mapping.Source{
			Kind: "Service", Namespace: svc.Namespace, Name: svc.Name, UID: string(svc.UID), Key: key,
			File: file, Line: lines[key], Created: svc.CreationTimestamp.Time,
		}, Body: body})
	}
	return out
}

// Services converts Services and EndpointSlices into what the resolver needs.
func Services(svcs []*corev1.Service, slices []*discoveryv1.EndpointSlice) map[string]*ir.Service {
	bySvc := map[string][]*discoveryv1.EndpointSlice{}
	for _, sl := range slices {
		key := ir.Key(sl.Namespace, sl.Labels[discoveryv1.LabelServiceName])
		bySvc[key] = append(bySvc[key], sl)
	}
	out := make(map[string]*ir.Service, len(svcs))
	for _, s := range svcs {
		key := ir.Key(s.Namespace, s.Name)
		out[key] = Service(s, bySvc[key])
	}
	return out
}

// Service converts one Service and its EndpointSlices: ports and, per port name, the ready
// endpoints, sorted. Without any slice the endpoints are unknown (nil): DNS is used instead.
func Service(s *corev1.Service, slices []*discoveryv1.EndpointSlice) *ir.Service {
	is := &ir.Service{Namespace: s.Namespace, Name: s.Name, Created: s.CreationTimestamp.Time}
	if s.Spec.Type == corev1.ServiceTypeExternalName {
		is.ExternalName = s.Spec.ExternalName
	}
	for _, p := range s.Spec.Ports {
		is.Ports = append(is.Ports, ir.ServicePort{Name: p.Name, Port: p.Port})
	}
	for _, sl := range slices {
		if sl.AddressType != discoveryv1.AddressTypeIPv4 && sl.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		if is.Endpoints == nil {
			is.Endpoints = map[string][]ir.Endpoint{}
		}
		addSlice(is, sl)
	}
	for name, eps := range is.Endpoints {
		sort.Slice(eps, func(i, j int) bool {
			return eps[i].Address < eps[j].Address || eps[i].Address == eps[j].Address && eps[i].Port < eps[j].Port
		})
		is.Endpoints[name] = eps
	}
	return is
}

// addSlice adds a slice's ready endpoints; a nil Ready condition means ready (EndpointSlice API).
func addSlice(svc *ir.Service, sl *discoveryv1.EndpointSlice) {
	for _, p := range sl.Ports {
		if p.Port == nil {
			continue
		}
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, addr := range ep.Addresses {
				svc.Endpoints[name] = append(svc.Endpoints[name], ir.Endpoint{Address: addr, Port: uint32(*p.Port)})
			}
		}
		if _, ok := svc.Endpoints[name]; !ok {
			svc.Endpoints[name] = nil
		}
	}
}
