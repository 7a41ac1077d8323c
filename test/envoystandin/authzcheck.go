package envoystandin

import (
	"crypto/x509"
	"maps"
	"net/netip"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// checkRequest is the CheckRequest Envoy's filter sends (CRU createHttpCheck): peers, the request
// as the connection manager left it (pseudo-headers included, filtered by allowed_headers and
// disallowed_headers, a client's x-envoy-auth-partial-body dropped), the body when buffered, and
// the route's context extensions. request.http.id is the stream id, not x-request-id.
func (a *authzStream) checkRequest(s *stream, per *authzPerRoute, body []byte, buffered bool) *authv3.CheckRequest {
	headers := map[string]string{}
	for k, v := range s.pseudoHeaders() {
		if k == "x-envoy-auth-partial-body" {
			continue
		}
		if a.f.disallow != nil && a.f.disallow.MatchAny(k) {
			continue
		}
		if a.f.allowed != nil && !a.f.allowed.MatchAny(k) {
			continue
		}
		headers[k] = sanitizeUTF8(v)
	}
	h := &authv3.AttributeContext_HttpRequest{
		Id: strconv.FormatUint(s.id, 10), Method: sanitizeUTF8(s.req.method), Path: sanitizeUTF8(s.req.path),
		Host: sanitizeUTF8(s.req.authority), Scheme: sanitizeUTF8(s.req.scheme), Size: s.body.n, Protocol: s.protocol,
		Headers: headers,
	}
	if buffered && s.body.n > 0 { // Envoy's decoding buffer exists once body bytes were buffered
		if a.f.packAsBytes {
			h.RawBody = body
		} else {
			h.Body = sanitizeUTF8(string(body))
		}
		partial := "false"
		if int64(len(body)) != s.body.n {
			partial = "true"
		}
		headers["x-envoy-auth-partial-body"] = partial
	}
	ext := map[string]string{}
	if per != nil {
		maps.Copy(ext, per.extensions)
	}
	source := &authv3.AttributeContext_Peer{Address: socketAddress(s.peer)}
	if svc := s.req.headers["x-envoy-downstream-service-cluster"]; svc != "" {
		source.Service = sanitizeUTF8(svc)
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:               source,
		Destination:          &authv3.AttributeContext_Peer{Address: socketAddress(s.local), Principal: s.localPrincipal(), Labels: map[string]string{}},
		Request:              &authv3.AttributeContext_Request{Time: timestamppb.New(s.start), Http: h},
		ContextExtensions:    ext,
		MetadataContext:      &corev3.Metadata{},
		RouteMetadataContext: &corev3.Metadata{},
	}}
}

func socketAddress(hostport string) *corev3.Address {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return nil
	}
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ap.Addr().Unmap().String(), PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(ap.Port())},
	}}}
}

// localPrincipal is the TLS connection's own certificate's first URI SAN, else first DNS SAN, else
// subject ("" without TLS).
func (s *stream) localPrincipal() string {
	if !s.conn.info.tls || s.conn.info.chain == nil || s.conn.info.chain.tls == nil {
		return ""
	}
	sec := s.cfg.secrets[s.conn.info.chain.tls.certs[0]]
	if sec == nil || sec.cert == nil || len(sec.cert.Certificate) == 0 {
		return ""
	}
	leaf, err := x509.ParseCertificate(sec.cert.Certificate[0])
	switch {
	case err != nil:
		return ""
	case len(leaf.URIs) > 0:
		return leaf.URIs[0].String()
	case len(leaf.DNSNames) > 0:
		return leaf.DNSNames[0]
	}
	return sanitizeUTF8(leaf.Subject.String())
}
