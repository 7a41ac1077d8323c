package ir

import (
	"cmp"
	"slices"
	"time"

	"github.com/kfgate/kfgate/gateway/mapping"
)

// Input is everything Resolve needs: the valid documents and what is known about Services.
type Input struct {
	Documents []mapping.Document
	Services  map[string]*Service // key "namespace/name"
	Options   Options
	// AuthDeclared says an AuthService document exists even if none is valid: then kfgate fails
	// closed (every route that does not bypass auth is denied) instead of serving without auth.
	AuthDeclared bool
}

// Options are installation settings.
type Options struct {
	ListenerPort  uint32
	HTTPSPort     uint32 // the TLS listener's port when a TLSContext serves hosts; default 8443
	ClusterDomain string // default "cluster.local"
	// Now is the clock certificate expiry is judged by (nil: time.Now).
	Now func() time.Time
}

// Service is what kfgate knows about a Kubernetes Service: its ports and, when EndpointSlices are
// known, its ready endpoints per port name.
type Service struct {
	Namespace    string
	Name         string
	Created      time.Time
	ExternalName string
	Ports        []ServicePort
	// Endpoints maps a Service port name ("" when unnamed) to the ready endpoints of that port,
	// from EndpointSlices. Nil means no EndpointSlice is known: fall back to DNS.
	Endpoints map[string][]Endpoint
}

// ServicePort is a Service port; EndpointSlice ports are matched to it by Name.
type ServicePort struct {
	Name string
	Port int32
}

// Key is the map key of a Service.
func Key(namespace, name string) string { return namespace + "/" + name }

// compareAge orders documents oldest source first, then by namespace/name, file, key and position:
// the deterministic order in which duplicates and collisions are resolved.
func compareAge(a, b *mapping.Document) int {
	// A trusted namespace's document is older than any tenant's: a tenant's Service created before
	// kfgate was installed must not take the dashboard's path.
	if a.Source.Tenant != b.Source.Tenant {
		if b.Source.Tenant {
			return -1
		}
		return 1
	}
	if c := a.Source.Created.Compare(b.Source.Created); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Source.Namespace, b.Source.Namespace); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Source.Name, b.Source.Name); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Source.File, b.Source.File); c != 0 {
		return c
	}
	if c := cmp.Compare(keyRank(a.Source.Key), keyRank(b.Source.Key)); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Source.Line, b.Source.Line); c != 0 {
		return c
	}
	return cmp.Compare(a.Index, b.Index)
}

func keyRank(k string) int {
	if i := slices.Index(mapping.AnnotationKeys, k); i >= 0 {
		return i
	}
	return len(mapping.AnnotationKeys)
}
