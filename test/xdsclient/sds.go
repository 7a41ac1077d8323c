package xdsclient

import (
	"slices"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// SDSNames lists, sorted and once each, the Secrets that listeners and clusters among resources
// fetch over SDS on the ADS stream, as Envoy would request them: the certificates and validation
// contexts of the filter chains' DownstreamTlsContexts (and their session ticket keys), and of the
// clusters' UpstreamTlsContexts, combined validation contexts included. A reference without an ADS
// (or self) config source is a static secret of Envoy's bootstrap, never requested.
func SDSNames(t testing.TB, resources []*anypb.Any) []string {
	var names []string
	for _, a := range resources {
		switch a.GetTypeUrl() {
		case resourcev3.ListenerType:
			var l listenerv3.Listener
			if err := a.UnmarshalTo(&l); err != nil {
				t.Errorf("decoding listener: %v", err)
				continue
			}
			for _, fc := range append(slices.Clone(l.GetFilterChains()), l.GetDefaultFilterChain()) {
				names = socketSDSNames(t, names, fc.GetTransportSocket())
			}
		case resourcev3.ClusterType:
			var c clusterv3.Cluster
			if err := a.UnmarshalTo(&c); err != nil {
				t.Errorf("decoding cluster: %v", err)
				continue
			}
			names = socketSDSNames(t, names, c.GetTransportSocket())
			for _, m := range c.GetTransportSocketMatches() {
				names = socketSDSNames(t, names, m.GetTransportSocket())
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// socketSDSNames appends the SDS names a TLS transport socket references.
func socketSDSNames(t testing.TB, names []string, ts *corev3.TransportSocket) []string {
	cfg := ts.GetTypedConfig()
	if cfg == nil {
		return names
	}
	var refs []*tlsv3.SdsSecretConfig
	switch cfg.GetTypeUrl() {
	case "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext":
		var d tlsv3.DownstreamTlsContext
		if err := cfg.UnmarshalTo(&d); err != nil {
			t.Errorf("decoding a DownstreamTlsContext: %v", err)
			return names
		}
		refs = append(commonSDS(d.GetCommonTlsContext()), d.GetSessionTicketKeysSdsSecretConfig())
	case "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext":
		var u tlsv3.UpstreamTlsContext
		if err := cfg.UnmarshalTo(&u); err != nil {
			t.Errorf("decoding an UpstreamTlsContext: %v", err)
			return names
		}
		refs = commonSDS(u.GetCommonTlsContext())
	}
	for _, r := range refs {
		if src := r.GetSdsConfig(); r.GetName() != "" && (src.GetAds() != nil || src.GetSelf() != nil) {
			names = append(names, r.GetName())
		}
	}
	return names
}

func commonSDS(c *tlsv3.CommonTlsContext) []*tlsv3.SdsSecretConfig {
	return append(slices.Clone(c.GetTlsCertificateSdsSecretConfigs()), c.GetValidationContextSdsSecretConfig(),
		c.GetCombinedValidationContext().GetValidationContextSdsSecretConfig())
}
