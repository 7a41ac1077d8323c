package kube

import (
	"reflect"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfgate/kfgate/gateway/ir"
	"github.com/kfgate/kfgate/gateway/mapping"
)

// AnnotationWrittenAt is the annotation in which a writer may say (RFC 3339 with fractions) when it wrote the object;
// kfgate measures API-write-to-snapshot latency from it. Without it, the newest managedFields
// time is used (whole seconds).
const AnnotationWrittenAt = "kfgate.io/written-at"

// The informers keep only what kfgate reads: these transforms run before an object enters the cache,
// so a cluster's other annotations, status and field ownership cost no memory.

// stripService keeps a Service's identity, labels, controller reference, kfgate's and Ambassador's annotations, the newest
// managedFields time and the spec fields routing reads. Anything that is not a Service (a tombstone)
// passes unchanged.
func stripService(obj any) (any, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return obj, nil
	}
	out := &corev1.Service{ObjectMeta: stripMeta(svc.ObjectMeta, keepServiceAnnotation), Spec: corev1.ServiceSpec{
		Type: svc.Spec.Type, ExternalName: svc.Spec.ExternalName, Selector: svc.Spec.Selector,
	}}
	out.Labels = svc.Labels
	// The controller reference alone says who made the Service (a Kubeflow Notebook, say).
	if c := metav1.GetControllerOfNoCopy(svc); c != nil {
		out.OwnerReferences = []metav1.OwnerReference{{APIVersion: c.APIVersion, Kind: c.Kind, Name: c.Name, UID: c.UID, Controller: c.Controller}}
	}
	for _, p := range svc.Spec.Ports {
		out.Spec.Ports = append(out.Spec.Ports, corev1.ServicePort{Name: p.Name, Protocol: p.Protocol, AppProtocol: p.AppProtocol,
			Port: p.Port, TargetPort: p.TargetPort})
	}
	return out, nil
}

func keepServiceAnnotation(key string) bool {
	return strings.HasPrefix(key, "kfgate.io/") || key == mapping.AnnotationAmbassador
}

// stripSlice keeps an EndpointSlice's identity, its Service label, ports and, per endpoint, the
// addresses and conditions.
func stripSlice(obj any) (any, error) {
	sl, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return obj, nil
	}
	out := &discoveryv1.EndpointSlice{ObjectMeta: stripMeta(sl.ObjectMeta, func(k string) bool { return k == AnnotationWrittenAt }),
		AddressType: sl.AddressType, Ports: sl.Ports}
	if name, ok := sl.Labels[discoveryv1.LabelServiceName]; ok {
		out.Labels = map[string]string{discoveryv1.LabelServiceName: name}
	}
	out.Endpoints = make([]discoveryv1.Endpoint, len(sl.Endpoints))
	for i, ep := range sl.Endpoints {
		out.Endpoints[i] = discoveryv1.Endpoint{Addresses: ep.Addresses, Conditions: ep.Conditions}
	}
	return out, nil
}

func stripMeta(m metav1.ObjectMeta, keep func(string) bool) metav1.ObjectMeta {
	out := metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		CreationTimestamp: m.CreationTimestamp, DeletionTimestamp: m.DeletionTimestamp}
	for k, v := range m.Annotations {
		if keep(k) {
			if out.Annotations == nil {
				out.Annotations = map[string]string{}
			}
			out.Annotations[k] = v
		}
	}
	var newest *metav1.ManagedFieldsEntry
	for i := range m.ManagedFields {
		if f := &m.ManagedFields[i]; f.Time != nil && (newest == nil || newest.Time.Before(f.Time)) {
			newest = f
		}
	}
	if newest != nil {
		out.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: newest.Manager, Operation: newest.Operation, Time: newest.Time}}
	}
	return out
}

// writtenAt is when the API server (or the writer, through AnnotationWrittenAt) says the object was
// last written; zero when neither says.
func writtenAt(m metav1.ObjectMeta) time.Time {
	if v, ok := m.Annotations[AnnotationWrittenAt]; ok {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t
		}
	}
	var t time.Time
	for _, f := range m.ManagedFields {
		if f.Time != nil && f.Time.After(t) {
			t = f.Time.Time
		}
	}
	return t
}

// sameService reports whether two stripped Services configure kfgate alike: they differ at most in
// resourceVersion, field ownership and write time.
func sameService(a, b *corev1.Service) bool {
	return reflect.DeepEqual(withoutVersion(a.ObjectMeta), withoutVersion(b.ObjectMeta)) && reflect.DeepEqual(a.Spec, b.Spec)
}

// sameSlice is sameService for EndpointSlices.
func sameSlice(a, b *discoveryv1.EndpointSlice) bool {
	return reflect.DeepEqual(withoutVersion(a.ObjectMeta), withoutVersion(b.ObjectMeta)) && a.AddressType == b.AddressType &&
		reflect.DeepEqual(a.Ports, b.Ports) && reflect.DeepEqual(a.Endpoints, b.Endpoints)
}

func withoutVersion(m metav1.ObjectMeta) metav1.ObjectMeta {
	m.ResourceVersion, m.ManagedFields = "", nil
	if _, ok := m.Annotations[AnnotationWrittenAt]; ok {
		a := make(map[string]string, len(m.Annotations))
		for k, v := range m.Annotations {
			if k != AnnotationWrittenAt {
				a[k] = v
			}
		}
		m.Annotations = a
	}
	return m
}

// stripPod keeps what the model-server helper reads of a Pod: identity, labels, phase and each
// container's image, command, args, ports and literal environment variables (MODEL_NAME, PROTOCOL and
// the $(VAR)s of args; valueFrom ones cannot be known and are dropped).
func stripPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	out := &corev1.Pod{ObjectMeta: stripMeta(pod.ObjectMeta, func(string) bool { return false }),
		Status: corev1.PodStatus{Phase: pod.Status.Phase}}
	out.Labels = pod.Labels
	for _, c := range pod.Spec.Containers {
		kept := corev1.Container{Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args, Ports: c.Ports}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				kept.Env = append(kept.Env, corev1.EnvVar{Name: e.Name, Value: e.Value})
			}
		}
		out.Spec.Containers = append(out.Spec.Containers, kept)
	}
	return out, nil
}

// stripMetadataOnly keeps a metadata-only object's type, identity and the annotations keep selects.
// Anything else passes unchanged.
func stripMetadataOnly(keep func(string) bool) func(any) (any, error) {
	return func(obj any) (any, error) {
		m, ok := obj.(*metav1.PartialObjectMetadata)
		if !ok {
			return obj, nil
		}
		out := &metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta, ObjectMeta: stripMeta(m.ObjectMeta, keep)}
		out.ManagedFields = nil
		return out, nil
	}
}

// secretKeys are the only data keys of a Secret that enter the cache: a certificate chain, its key
// and a CA bundle. Whatever else a kubernetes.io/tls Secret holds is dropped as it arrives.
var secretKeys = []string{ir.SecretCert, ir.SecretKey, ir.SecretCA}

// stripSecret keeps a Secret's identity, resourceVersion, type and the data under secretKeys: no
// labels, annotations (kubectl's last-applied-configuration would hold the whole Secret again) nor
// managedFields.
func stripSecret(obj any) (any, error) {
	sec, ok := obj.(*corev1.Secret)
	if !ok {
		return obj, nil
	}
	out := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: sec.Name, Namespace: sec.Namespace, UID: sec.UID,
		ResourceVersion: sec.ResourceVersion}, Type: sec.Type}
	for _, k := range secretKeys {
		if v, ok := sec.Data[k]; ok {
			if out.Data == nil {
				out.Data = make(map[string][]byte, len(secretKeys))
			}
			out.Data[k] = v
		}
	}
	return out, nil
}

// sameSecret is sameService for stripped Secrets.
func sameSecret(a, b *corev1.Secret) bool {
	return a.Name == b.Name && a.Namespace == b.Namespace && a.UID == b.UID && a.Type == b.Type && reflect.DeepEqual(a.Data, b.Data)
}
