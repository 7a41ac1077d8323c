package envoystandin

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// mutateRequest is CMU mutateRequestHeaders, for a connection manager without original IP
// detection extensions, internal_address_config, user agent, via or XFCC settings (none of them
// are in the allowlist). Since Envoy 1.33 no address is internal by default, so no request is
// internal, and with use_remote_address every request is an edge request.
func (s *stream) mutateRequest() {
	h := s.req.headers
	if s.upgradeType() == "" {
		delete(h, "connection")
		delete(h, "upgrade")
	}
	for _, k := range []string{"x-envoy-internal", "keep-alive", "proxy-connection", "transfer-encoding"} {
		delete(h, k)
	}
	if te, ok := h["te"]; ok && !strings.EqualFold(strings.TrimSpace(te), "trailers") {
		delete(h, "te") // only "te: trailers" is forwarded (envoy.reloadable_features.sanitize_te)
	}
	if ref, ok := h["referer"]; ok {
		if u, err := url.Parse(ref); err != nil || u.Scheme == "" || u.Host == "" {
			delete(h, "referer") // a referer that is not a valid absolute URL is dropped
		}
	}
	if exp := h["expect"]; strings.EqualFold(exp, "100-continue") {
		delete(h, "expect") // proxy_100_continue is off: Envoy answers 100 itself and drops it
	}
	tlsConn := s.conn.info.tls
	proto := "http"
	if tlsConn {
		proto = "https"
	}
	// The trusted client address: from XFF when configured so, else the peer (CMU).
	var trusted netip.Addr
	hops := s.hcm.trustedHops
	if s.hcm.useRemote {
		if hops > 0 {
			trusted = lastXFF(h["x-forwarded-for"], hops-1)
		}
		if !s.hcm.skipXFFAppend {
			if peer := addrOf(s.peer); peer.IsLoopback() {
				appendXFF(h, s.e.opts.NodeAddress)
			} else {
				appendXFF(h, peer.String())
			}
		}
		if _, ok := h["x-forwarded-proto"]; hops == 0 || !ok {
			h["x-forwarded-proto"] = proto
		}
	} else {
		// The default original IP detection: the XFF address hops from the right (HCM).
		trusted = lastXFF(h["x-forwarded-for"], hops)
	}
	s.remote = s.peer
	if trusted.IsValid() {
		s.remote = net.JoinHostPort(trusted.String(), "0") // an address from XFF has no port
	}
	if _, ok := h["x-forwarded-proto"]; !ok {
		h["x-forwarded-proto"] = proto
	}
	switch xfp := h["x-forwarded-proto"]; xfp {
	case "http", "https":
		s.req.scheme = xfp
	default:
		s.req.scheme = proto
	}
	edge := s.hcm.useRemote
	s.cleanInternal(edge)
	if edge {
		h["x-envoy-external-address"] = hostOnly(s.remote)
	}
	if s.hcm.generateID {
		if _, ok := h["x-request-id"]; !ok || (edge && !s.hcm.preserveID) {
			h["x-request-id"] = s.e.uuid()
		}
	}
}

// cleanInternal is CMU cleanInternalHeaders for a request that is not internal.
func (s *stream) cleanInternal(edge bool) {
	h := s.req.headers
	if edge {
		for _, k := range []string{"x-envoy-decorator-operation", "x-envoy-downstream-service-cluster", "x-envoy-downstream-service-node"} {
			delete(h, k)
		}
	}
	for _, k := range []string{"x-envoy-retriable-status-codes", "x-envoy-retriable-header-names", "x-envoy-retry-on",
		"x-envoy-retry-grpc-on", "x-envoy-max-retries", "x-envoy-upstream-alt-stat-name", "x-envoy-upstream-rq-timeout-ms",
		"x-envoy-upstream-rq-per-try-timeout-ms", "x-envoy-upstream-rq-timeout-alt-response", "x-envoy-expected-rq-timeout-ms",
		"x-envoy-force-trace", "x-envoy-ip-tags", "x-envoy-original-url", "x-envoy-hedge-on-per-try-timeout"} {
		delete(h, k)
	}
	if s.routes != nil {
		for _, k := range s.routes.internalOnly {
			delete(h, k)
		}
	}
}

// lastXFF is Utility::getLastAddressFromXFF: the address skip entries from the right of XFF
// (invalid when there is none).
func lastXFF(xff string, skip uint32) netip.Addr {
	if xff == "" {
		return netip.Addr{}
	}
	s := xff
	for i := uint32(0); i < skip; i++ {
		j := strings.LastIndexByte(s, ',')
		if j < 0 {
			return netip.Addr{}
		}
		s = s[:j]
	}
	j := strings.LastIndexByte(s, ',')
	if j >= 0 && j+1 < len(s) {
		s = s[j+1:]
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func appendXFF(h map[string]string, addr string) {
	if old, ok := h["x-forwarded-for"]; ok && old != "" {
		h["x-forwarded-for"] = old + "," + addr
		return
	}
	h["x-forwarded-for"] = addr
}

func addrOf(hostport string) netip.Addr {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// uuid is a random (version 4) UUID, as Envoy's request id extension makes.
func (e *Envoy) uuid() string {
	a, b := e.rnd.uint64(), e.rnd.uint64()
	a = a&^(0xf<<12) | 4<<12   // version 4
	b = b&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}
