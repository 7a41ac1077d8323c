package xds

import (
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"

	"github.com/kfgate/kfgate/gateway/ir"
)

// Names Envoy registers these extensions under.
const (
	ListenerFilterTLSInspector = "envoy.filters.listener.tls_inspector"
	TransportSocketTLS         = "envoy.transport_sockets.tls"
)

// HTTPSRouteConfigName is the RouteConfiguration of the HTTPS listener when it differs from the
// cleartext one (redirects or HSTS); otherwise both listeners share RouteConfigName.
func HTTPSRouteConfigName(port uint32) string { return fmt.Sprintf("https-%d", port) }

// HTTPSListener builds the TLS listener: the TLS inspector reads SNI, and each TLSContext gets a
// filter chain matching its hosts, with its certificate fetched over SDS on the ADS stream (so a
// renewed certificate replaces the old one in place, without a listener drain).
func HTTPSListener(h *ir.HTTPSListener, l ir.Listener, rds string) (*listenerv3.Listener, error) {
	inspector, err := toAny(&tlsinspectorv3.TlsInspector{})
	if err != nil {
		return nil, err
	}
	lst := &listenerv3.Listener{
		Name:    fmt.Sprintf("https-%d", h.Port),
		Address: socketAddress("0.0.0.0", h.Port),
		ListenerFilters: []*listenerv3.ListenerFilter{{Name: ListenerFilterTLSInspector,
			ConfigType: &listenerv3.ListenerFilter_TypedConfig{TypedConfig: inspector}}},
	}
	// Every chain runs the same connection manager: built once (its access log is most of the cost).
	hcm, err := connectionManager(l, fmt.Sprintf("https-%d", h.Port), rds)
	if err != nil {
		return nil, err
	}
	for _, fc := range h.Chains {
		params := fc.TLSParams
		if len(params.ALPNProtocols) == 0 {
			params.ALPNProtocols = defaultALPN // else Envoy offers no ALPN, and clients never get HTTP/2
		}
		ctx := &tlsv3.DownstreamTlsContext{CommonTlsContext: commonTLS(params)}
		ctx.CommonTlsContext.TlsCertificateSdsSecretConfigs = []*tlsv3.SdsSecretConfig{sdsRef(fc.Secret)}
		socket, err := transportSocket(ctx)
		if err != nil {
			return nil, fmt.Errorf("filter chain %s: %w", fc.Name, err)
		}
		chain := &listenerv3.FilterChain{Name: fc.Name, Filters: []*listenerv3.Filter{hcm}, TransportSocket: socket}
		if len(fc.ServerNames) > 0 {
			chain.FilterChainMatch = &listenerv3.FilterChainMatch{ServerNames: fc.ServerNames}
		}
		lst.FilterChains = append(lst.FilterChains, chain)
	}
	return lst, nil
}

var defaultALPN = []string{"h2", "http/1.1"}

func commonTLS(p ir.TLSParams) *tlsv3.CommonTlsContext {
	c := &tlsv3.CommonTlsContext{AlpnProtocols: p.ALPNProtocols}
	if p.MinVersion != "" || p.MaxVersion != "" || len(p.CipherSuites) > 0 || len(p.ECDHCurves) > 0 {
		c.TlsParams = &tlsv3.TlsParameters{TlsMinimumProtocolVersion: tlsVersions[p.MinVersion],
			TlsMaximumProtocolVersion: tlsVersions[p.MaxVersion], CipherSuites: p.CipherSuites, EcdhCurves: p.ECDHCurves}
	}
	return c
}

var tlsVersions = map[string]tlsv3.TlsParameters_TlsProtocol{
	"": tlsv3.TlsParameters_TLS_AUTO, "v1.0": tlsv3.TlsParameters_TLSv1_0, "v1.1": tlsv3.TlsParameters_TLSv1_1,
	"v1.2": tlsv3.TlsParameters_TLSv1_2, "v1.3": tlsv3.TlsParameters_TLSv1_3,
}

func sdsRef(name string) *tlsv3.SdsSecretConfig {
	return &tlsv3.SdsSecretConfig{Name: name, SdsConfig: adsSource()}
}

func transportSocket(ctx proto.Message) (*corev3.TransportSocket, error) {
	a, err := toAny(ctx)
	if err != nil {
		return nil, err
	}
	return &corev3.TransportSocket{Name: TransportSocketTLS, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: a}}, nil
}

// upstreamTLS is a cluster's TLS origination: SNI, and with a TLSContext its protocol settings, the
// CA that verifies the upstream (over SDS) with the SNI as the name its certificate must carry,
// and a client certificate.
func upstreamTLS(c *ir.Cluster) *tlsv3.UpstreamTlsContext {
	ctx := &tlsv3.UpstreamTlsContext{Sni: c.SNI}
	u := c.UpstreamTLS
	if u == nil {
		return ctx
	}
	ctx.CommonTlsContext = commonTLS(u.TLSParams)
	if u.ClientSecret != "" {
		ctx.CommonTlsContext.TlsCertificateSdsSecretConfigs = []*tlsv3.SdsSecretConfig{sdsRef(u.ClientSecret)}
	}
	if u.CASecret != "" {
		def := &tlsv3.CertificateValidationContext{}
		if c.SNI != "" {
			def.MatchTypedSubjectAltNames = []*tlsv3.SubjectAltNameMatcher{{SanType: tlsv3.SubjectAltNameMatcher_DNS,
				Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: c.SNI}}}}
		}
		ctx.CommonTlsContext.ValidationContextType = &tlsv3.CommonTlsContext_CombinedValidationContext{
			CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
				DefaultValidationContext: def, ValidationContextSdsSecretConfig: sdsRef(u.CASecret),
			}}
	}
	return ctx
}

// Secrets builds the SDS secrets: certificates with their keys, and CA bundles.
func Secrets(in []*ir.TLSSecret) ([]*tlsv3.Secret, error) {
	out := make([]*tlsv3.Secret, 0, len(in))
	for _, s := range in {
		sec := &tlsv3.Secret{Name: s.Name}
		if s.CA != nil {
			sec.Type = &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{TrustedCa: inlineBytes(s.CA)}}
		} else {
			sec.Type = &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
				CertificateChain: inlineBytes(s.Cert), PrivateKey: inlineBytes(s.Key)}}
		}
		if err := sec.ValidateAll(); err != nil {
			return nil, fmt.Errorf("secret %q: %w", s.Name, err) // never the content
		}
		out = append(out, sec)
	}
	return out, nil
}

func inlineBytes(b []byte) *corev3.DataSource {
	return &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: b}}
}
