package envoystandin

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// newTransport is the cluster's connection pool: HTTP/1.1 or (explicit http2_protocol_options)
// HTTP/2, cleartext (h2c with prior knowledge, as Envoy speaks it) or TLS with the cluster's
// UpstreamTlsContext. It adds nothing to requests: no Accept-Encoding, no User-Agent.
func (e *Envoy) newTransport(c *cluster) *http.Transport {
	d := &net.Dialer{Timeout: c.connectTimeout}
	t := &http.Transport{
		DialContext:         d.DialContext,
		DisableCompression:  true,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     time.Hour, // Envoy's upstream idle_timeout default
	}
	var p http.Protocols
	switch {
	case c.http2 && c.tls != nil:
		p.SetHTTP2(true)
	case c.http2:
		p.SetUnencryptedHTTP2(true)
	default:
		p.SetHTTP1(true)
	}
	t.Protocols = &p
	if c.tls != nil {
		t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			cfg, err := c.tls.config(e.cfg.Load())
			if err != nil {
				return nil, err
			}
			if c.http2 && len(cfg.NextProtos) == 0 {
				// Envoy speaks HTTP/2 after the handshake whatever ALPN says; Go needs "h2" negotiated.
				cfg.NextProtos = []string{"h2"}
			}
			raw, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(raw, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				_ = raw.Close()
				return nil, err
			}
			return tc, nil
		}
	}
	return t
}

// scheme is the URL scheme that makes the transport use the cluster's TLS.
func (c *cluster) scheme() string {
	if c.tls != nil {
		return "https"
	}
	return "http"
}
