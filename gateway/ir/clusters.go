package ir

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kfgate/kfgate/gateway/mapping"
)

// clusterOptions are the Mapping settings that shape a cluster; Mappings that agree share it.
type clusterOptions struct {
	tls              bool
	origin           *UpstreamTLS
	http2            bool
	connectTimeoutMs int64
	lbPolicy         string
	circuitBreakers  []mapping.CircuitBreaker
}

// cluster returns the cluster for a service reference, creating it on first use. In-cluster Services
// with known EndpointSlices become EDS clusters; other in-cluster names fall back to DNS on the
// Service's cluster DNS name; everything else is an external DNS cluster.
func (r *resolver) cluster(doc mapping.Document, ref mapping.ServiceRef, o clusterOptions) *Cluster {
	c := &Cluster{Port: uint32(ref.Port), TLS: o.tls, UpstreamTLS: o.origin, HTTP2: o.http2, LBPolicy: o.lbPolicy,
		ConnectTimeout: time.Duration(o.connectTimeoutMs) * time.Millisecond, CircuitBreaker: o.circuitBreakers}
	base := ""
	switch svc := r.inCluster(ref); {
	case svc != nil && svc.ExternalName != "" && doc.Source.Tenant && !r.tenantExternalName(svc):
		// A tenant's ExternalName could name anything: Envoy's own admin port on localhost, a cloud
		// metadata address, another namespace's Service reached as the gateway. No endpoints: 503.
		r.report(doc, mapping.SeverityError, mapping.ReasonUntrusted, "service",
			"Service %s/%s is an ExternalName for %q; in a namespace that is not trusted (--trusted-namespaces) an ExternalName may only name the namespace's own Services or Knative's %s: it gets no traffic",
			svc.Namespace, svc.Name, svc.ExternalName, knativeGateway)
		c.Kind, c.Host = ClusterEDS, Key(svc.Namespace, svc.Name)
		base = Key(svc.Namespace, svc.Name) + "/refused-externalname"
	case svc != nil && svc.ExternalName != "":
		c.Kind, c.Host = ClusterDNS, strings.ToLower(svc.ExternalName)
		base = svc.Namespace + "/" + svc.Name
	case svc != nil && svc.Endpoints != nil:
		c.Kind, c.Host = ClusterEDS, Key(svc.Namespace, svc.Name)
		c.Endpoints = r.endpoints(doc, svc, ref.Port)
		base = Key(svc.Namespace, svc.Name)
	case ref.Name != "" && (ref.Qualified || r.namespaces[ref.Namespace]):
		c.Kind, c.Host = ClusterDNS, fmt.Sprintf("%s.%s.svc.%s", ref.Name, ref.Namespace, r.in.Options.ClusterDomain)
		base = Key(ref.Namespace, ref.Name)
		if svc != nil {
			r.checkPort(doc, svc, ref.Port)
		}
	default:
		c.Kind, c.Host = ClusterDNS, ref.Host
		base = ref.Host
	}
	if c.TLS {
		c.SNI = ref.Host
		if c.Kind == ClusterDNS {
			c.SNI = c.Host
		}
		if o.origin != nil && o.origin.SNI != "" {
			c.SNI = o.origin.SNI
		}
	}
	c.Name = clusterName(base, c, o)
	if existing, ok := r.clusters[c.Name]; ok {
		return existing
	}
	if ref.Name != "" {
		c.service = Key(ref.Namespace, ref.Name)
	}
	r.clusters[c.Name] = c
	r.created = append(r.created, c.Name)
	return c
}

// knativeGateway is the Service Knative's ExternalName predictors (KServe serverless) point at.
const knativeGateway = "knative-local-gateway.istio-system.svc"

// tenantExternalName reports whether a tenant's ExternalName Service names what it may: its own
// namespace's Services, or Knative's local gateway (which routes by Host, and a tenant's host_rewrite
// stays within its namespace).
func (r *resolver) tenantExternalName(svc *Service) bool {
	name := strings.TrimSuffix(strings.ToLower(svc.ExternalName), ".")
	return mapping.OwnHost(name, svc.Namespace) || name == knativeGateway || name == knativeGateway+"."+r.in.Options.ClusterDomain
}

func (r *resolver) inCluster(ref mapping.ServiceRef) *Service {
	if ref.Name == "" {
		return nil
	}
	return r.in.Services[Key(ref.Namespace, ref.Name)]
}

// servicePort finds the Service port a Mapping's port number refers to.
func servicePort(svc *Service, port int) (ServicePort, bool) {
	for _, p := range svc.Ports {
		if int(p.Port) == port {
			return p, true
		}
	}
	return ServicePort{}, false
}

func (r *resolver) checkPort(doc mapping.Document, svc *Service, port int) (ServicePort, bool) {
	p, ok := servicePort(svc, port)
	if !ok && len(svc.Ports) > 0 {
		ports := make([]string, 0, len(svc.Ports))
		for _, sp := range svc.Ports {
			ports = append(ports, strconv.Itoa(int(sp.Port)))
		}
		r.report(doc, mapping.SeverityWarning, mapping.ReasonUnknownPort, "service",
			"Service %s has no port %d (it has %s); requests will fail", Key(svc.Namespace, svc.Name), port, strings.Join(ports, ", "))
	}
	return p, ok
}

// endpoints returns the ready endpoints behind a Service port, matched to the EndpointSlice port by
// name so that a targetPort (number or name) is honoured.
func (r *resolver) endpoints(doc mapping.Document, svc *Service, port int) []Endpoint {
	p, ok := r.checkPort(doc, svc, port)
	if !ok {
		return nil
	}
	eps := svc.Endpoints[p.Name]
	out := make([]Endpoint, len(eps))
	copy(out, eps)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Address != out[j].Address {
			return out[i].Address < out[j].Address
		}
		return out[i].Port < out[j].Port
	})
	return out
}

// clusterName is readable ("kubeflow/jupyter/80", "httpbin.org/443/tls") with a short hash of any
// non-default tuning appended, so Mappings with different tuning get different clusters.
func clusterName(base string, c *Cluster, o clusterOptions) string {
	name := fmt.Sprintf("%s/%d", base, c.Port)
	if c.TLS {
		name += "/tls"
	}
	if c.HTTP2 {
		name += "/h2"
	}
	if o.origin != nil {
		name += "/tls=" + o.origin.Context
	}
	if o.connectTimeoutMs != mapping.DefaultConnectTimeoutMs || o.lbPolicy != "" || len(o.circuitBreakers) > 0 {
		b, _ := json.Marshal([]any{o.connectTimeoutMs, o.lbPolicy, o.circuitBreakers}) // plain data: cannot fail
		sum := sha256.Sum256(b)
		name += "/" + hex.EncodeToString(sum[:4])
	}
	return name
}
