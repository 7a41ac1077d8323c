package envoystandin

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// port is one bound Envoy listener port. The socket is bound at Start, so its address is known
// before any Listener arrives; while no active Listener is on the port, connections are closed at
// once, as if nothing listened there.
type port struct {
	num   uint32
	lis   net.Listener
	conns chan net.Conn
	srv   *http.Server
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

// conn is a downstream connection with what the stand-in decided for it when it was accepted.
type conn struct {
	net.Conn
	r    *bufio.Reader
	info *connInfo
}

func (c *conn) Read(p []byte) (int, error) { return c.r.Read(p) }

// connInfo is a connection's listener (the version active when it was accepted: a later version
// drains it) and filter chain (for TLS, chosen by SNI during the handshake).
type connInfo struct {
	listener *listener
	chain    *filterChain
	tls      bool
}

type connKey struct{}

func (e *Envoy) bind(p uint32, addr string) (*port, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("envoystandin: listening on %s for port %d: %w", addr, p, err)
	}
	pt := &port{num: p, lis: lis, conns: make(chan net.Conn), done: make(chan struct{})}
	pt.srv = &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.serveHTTP(w, r) }),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*tls.Conn); ok {
				c = tc.NetConn()
			}
			if cc, ok := c.(*conn); ok {
				return context.WithValue(ctx, connKey{}, cc)
			}
			return ctx
		},
	}
	pt.wg.Add(2)
	go func() {
		defer pt.wg.Done()
		_ = pt.srv.Serve(chanListener{pt})
	}()
	go func() {
		defer pt.wg.Done()
		e.accept(pt)
	}()
	return pt, nil
}

func (pt *port) close() {
	pt.once.Do(func() {
		close(pt.done)
		_ = pt.lis.Close()
		_ = pt.srv.Close()
	})
	pt.wg.Wait()
}

// accept hands each connection to the listener active on the port, choosing its filter chain:
// with the TLS inspector, by the SNI of a TLS ClientHello; without, as a connection without SNI.
func (e *Envoy) accept(pt *port) {
	for {
		raw, err := pt.lis.Accept()
		if err != nil {
			return
		}
		l := e.cfg.Load().activeOn(pt.num)
		if l == nil {
			_ = raw.Close()
			continue
		}
		go e.handshake(pt, l, raw)
	}
}

func (e *Envoy) handshake(pt *port, l *listener, raw net.Conn) {
	c := &conn{Conn: raw, r: bufio.NewReader(raw), info: &connInfo{listener: l}}
	// With the TLS inspector, a TLS ClientHello selects the chain by SNI; without it, the chain is
	// the one for connections without SNI, and its transport socket says whether TLS is spoken.
	isTLS := false
	if l.tlsInspector {
		_ = raw.SetReadDeadline(time.Now().Add(15 * time.Second)) // the inspector's own timeout
		first, err := c.r.Peek(1)
		_ = raw.SetReadDeadline(time.Time{})
		if err != nil {
			_ = raw.Close()
			return
		}
		isTLS = first[0] == 0x16 // a TLS handshake record
	} else if chain := l.choose(""); chain != nil {
		isTLS = chain.tls != nil
	}
	var out net.Conn = c
	if isTLS {
		out = tls.Server(c, e.serverTLS(c.info))
	} else {
		chain := l.choose("")
		if chain == nil || chain.tls != nil {
			// No chain, or a TLS chain for a client that did not speak TLS: the handshake fails.
			_ = raw.Close()
			return
		}
		c.info.chain = chain
	}
	c.info.tls = isTLS
	select {
	case pt.conns <- out:
	case <-pt.done:
		_ = raw.Close()
	}
}

// chanListener feeds the accepted connections to the port's http.Server.
type chanListener struct{ pt *port }

func (l chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.pt.conns:
		return c, nil
	case <-l.pt.done:
		return nil, net.ErrClosed
	}
}

func (l chanListener) Close() error   { return nil }
func (l chanListener) Addr() net.Addr { return l.pt.lis.Addr() }

var errNoChain = errors.New("no filter chain matches")

// serverTLS is the TLS configuration of a connection: the filter chain its SNI selects (FCM), with
// the chain's certificate as SDS holds it now (a renewed Secret serves new handshakes at once).
func (e *Envoy) serverTLS(info *connInfo) *tls.Config {
	return &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		chain := info.listener.choose(hello.ServerName)
		if chain == nil || chain.tls == nil {
			return nil, errNoChain
		}
		info.chain = chain
		return chain.tls.config(e.cfg.Load())
	}}
}

// downstream returns the connection a request came on.
func downstream(r *http.Request) *conn {
	c, _ := r.Context().Value(connKey{}).(*conn)
	return c
}
