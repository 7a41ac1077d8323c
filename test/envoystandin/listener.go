package envoystandin

import (
	"fmt"
	"slices"
	"strings"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// listener is a compiled Listener.
type listener struct {
	src          *listenerv3.Listener
	port         uint32
	tlsInspector bool
	chains       []*filterChain
	exact        map[string]*filterChain // server name → chain
	catchAll     *filterChain            // the chain without server_names
	def          *filterChain            // default_filter_chain
}

// filterChain is one filter chain: its TLS context (nil for cleartext) and connection manager.
type filterChain struct {
	serverNames []string
	tls         *downstreamTLS
	hcm         *hcm
}

func (e *Envoy) compileListener(l *listenerv3.Listener) (*listener, error) {
	if err := validated(l, "listener"); err != nil {
		return nil, err
	}
	sa := l.GetAddress().GetSocketAddress()
	out := &listener{src: l, port: sa.GetPortValue(), exact: map[string]*filterChain{}}
	if _, ok := e.opts.Ports[out.port]; !ok {
		return nil, fmt.Errorf("port %d has no local address in Options.Ports", out.port)
	}
	for i, lf := range l.GetListenerFilters() {
		if _, err := unpack(lf.GetTypedConfig(), &tlsinspectorv3.TlsInspector{}, fmt.Sprintf("listener_filters[%d]", i)); err != nil {
			return nil, err
		}
		out.tlsInspector = true
	}
	for i, fc := range l.GetFilterChains() {
		chain, err := e.compileChain(fc, fmt.Sprintf("filter_chains[%d]", i))
		if err != nil {
			return nil, err
		}
		if err := out.index(chain); err != nil {
			return nil, fmt.Errorf("filter_chains[%d]: %w", i, err)
		}
		out.chains = append(out.chains, chain)
	}
	if fc := l.GetDefaultFilterChain(); fc != nil {
		chain, err := e.compileChain(fc, "default_filter_chain")
		if err != nil {
			return nil, err
		}
		out.def = chain
	}
	return out, nil
}

// index records a chain's server names; the same matching rules twice is a configuration error
// (FCM: "multiple filter chains with the same matching rules are defined").
func (l *listener) index(c *filterChain) error {
	if len(c.serverNames) == 0 {
		if l.catchAll != nil {
			return fmt.Errorf("multiple filter chains without server_names")
		}
		l.catchAll = c
		return nil
	}
	for _, n := range c.serverNames {
		if l.exact[n] != nil {
			return fmt.Errorf("server name %q is in two filter chains", n)
		}
		l.exact[n] = c
	}
	return nil
}

// choose is the filter chain for a connection with SNI sni (FCM findFilterChainForServerName): an
// exact server name, then the longest wildcard ("*.b.c", then "*.c"), then the chain without
// server names, then the default chain. Without the TLS inspector the SNI is not known.
func (l *listener) choose(sni string) *filterChain {
	if !l.tlsInspector {
		sni = ""
	}
	sni = strings.ToLower(sni)
	if sni != "" {
		if c := l.exact[sni]; c != nil {
			return c
		}
		for rest := sni; ; {
			i := strings.IndexByte(rest, '.')
			if i < 0 {
				break
			}
			rest = rest[i+1:]
			if c := l.exact["*."+rest]; c != nil {
				return c
			}
		}
	}
	if l.catchAll != nil {
		return l.catchAll
	}
	return l.def
}

func (e *Envoy) compileChain(fc *listenerv3.FilterChain, path string) (*filterChain, error) {
	out := &filterChain{}
	for _, n := range fc.GetFilterChainMatch().GetServerNames() {
		out.serverNames = append(out.serverNames, strings.ToLower(n))
	}
	if len(fc.GetFilters()) != 1 {
		return nil, fmt.Errorf("%s: want exactly one network filter, the HTTP connection manager; have %d", path, len(fc.GetFilters()))
	}
	h, err := unpack(fc.GetFilters()[0].GetTypedConfig(), &hcmv3.HttpConnectionManager{}, path+".filters[0]")
	if err != nil {
		return nil, err
	}
	if out.hcm, err = e.compileHCM(h, path+".filters[0]"); err != nil {
		return nil, err
	}
	if ts := fc.GetTransportSocket(); ts != nil {
		d, err := unpack(ts.GetTypedConfig(), &tlsv3.DownstreamTlsContext{}, path+".transport_socket")
		if err != nil {
			return nil, err
		}
		if out.tls, err = compileDownstreamTLS(d, path+".transport_socket"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// rds lists the RouteConfigurations the listener waits for.
func (l *listener) rds() []string {
	var out []string
	for _, c := range l.allChains() {
		if c.hcm.rds != "" {
			out = append(out, c.hcm.rds)
		}
	}
	return sortedUnique(out)
}

// sds lists the Secrets the listener waits for.
func (l *listener) sds() []string {
	var out []string
	for _, c := range l.allChains() {
		if c.tls != nil {
			out = append(out, c.tls.secrets()...)
		}
	}
	return sortedUnique(out)
}

func (l *listener) allChains() []*filterChain {
	out := slices.Clone(l.chains)
	if l.def != nil {
		out = append(out, l.def)
	}
	return out
}
