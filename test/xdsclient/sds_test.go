package xdsclient

import (
	"slices"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

func TestSDSNames(t *testing.T) {
	ads := &corev3.ConfigSource{ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}}
	ref := func(name string) *tlsv3.SdsSecretConfig { return &tlsv3.SdsSecretConfig{Name: name, SdsConfig: ads} }
	socket := func(ctx proto.Message) *corev3.TransportSocket {
		return &corev3.TransportSocket{Name: "envoy.transport_sockets.tls",
			ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(t, ctx)}}
	}
	listener := &listenerv3.Listener{Name: "https-8443", FilterChains: []*listenerv3.FilterChain{
		{TransportSocket: socket(&tlsv3.DownstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{ref("kfgate/tls/ns/a")},
			ValidationContextType:          &tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig{ValidationContextSdsSecretConfig: ref("kfgate/ca/ns/clients")}}})},
		{TransportSocket: socket(&tlsv3.DownstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{ref("kfgate/tls/ns/b"), {Name: "static-from-bootstrap"}}}})},
		{}, // cleartext
	}}
	cluster := &clusterv3.Cluster{Name: "ns/api/443", TransportSocket: socket(&tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
		TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{ref("kfgate/tls/ns/client")},
		ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
			DefaultValidationContext: &tlsv3.CertificateValidationContext{}, ValidationContextSdsSecretConfig: ref("kfgate/ca/ns/upstream")}}}})}
	again := &clusterv3.Cluster{Name: "ns/api2/443", TransportSocket: cluster.GetTransportSocket()}
	plain := &clusterv3.Cluster{Name: "ns/web/80"}

	got := SDSNames(t, []*anypb.Any{mustAny(t, listener), mustAny(t, cluster), mustAny(t, again), mustAny(t, plain)})
	want := []string{"kfgate/ca/ns/clients", "kfgate/ca/ns/upstream", "kfgate/tls/ns/a", "kfgate/tls/ns/b", "kfgate/tls/ns/client"}
	if !slices.Equal(got, want) {
		t.Errorf("SDS names %q, want %q (sorted, once each, no static secret)", got, want)
	}
	if got := SDSNames(t, []*anypb.Any{mustAny(t, plain)}); len(got) != 0 {
		t.Errorf("a cluster without TLS references %q", got)
	}
}

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
