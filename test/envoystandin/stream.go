package envoystandin

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kfgate/kfgate/test/routeeval"
)

// request is a request as Envoy's header map holds it.
type request struct {
	method, path, authority, scheme string
	headers                         map[string]string // lower-case, no pseudo-headers; repeats joined with ","
}

// stream is one request on its way through the connection manager and the filters.
type stream struct {
	e         *Envoy
	cfg       *config
	conn      *conn
	hcm       *hcm
	routes    *routeTable
	w         http.ResponseWriter
	r         *http.Request
	id        uint64
	start     time.Time
	protocol  string // "HTTP/1.1", "HTTP/2"
	peer      string // the connection's remote address
	local     string // the connection's local address
	remote    string // the trusted downstream address (CMU final_remote_address), "ip:port"
	req       request
	decision  routeeval.Decision
	body      *countingReader // the request body as yet unread by the stand-in
	instances []filterInstance
	flags     []string          // response flags, for the access log
	upstream  string            // the upstream host, for the access log
	logged    map[string]string // the request headers as forwarded, for the access log
	routed    string            // the :path the route was resolved on
	upstreamT time.Duration
}

// serveHTTP runs one request: connection manager, filters, response.
func (e *Envoy) serveHTTP(w http.ResponseWriter, r *http.Request) {
	c := downstream(r)
	if c == nil || c.info.chain == nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	s := &stream{e: e, cfg: e.cfg.Load(), conn: c, hcm: c.info.chain.hcm, w: w, r: r, id: e.rnd.uint64(),
		start: time.Now(), protocol: protocolName(r), peer: c.RemoteAddr().String(), local: c.LocalAddr().String(),
		body: &countingReader{r: r.Body}}
	s.routes = s.cfg.routes[s.hcm.rds]
	s.req = readRequest(r)
	resp := s.run()
	s.respond(resp)
}

func protocolName(r *http.Request) string {
	if r.ProtoMajor == 2 {
		return "HTTP/2"
	}
	return r.Proto
}

// readRequest builds the header map Envoy's codec makes: lower-case names, Host as :authority,
// repeated headers joined with "," (cookies with "; " over HTTP/2, as the codec joins them).
func readRequest(r *http.Request) request {
	req := request{method: r.Method, path: requestPath(r.RequestURI), authority: r.Host, headers: map[string]string{}}
	for k, vs := range r.Header {
		sep := ","
		lk := strings.ToLower(k)
		if lk == "cookie" && r.ProtoMajor == 2 {
			sep = "; "
		}
		req.headers[lk] = strings.Join(vs, sep)
	}
	return req
}

// requestPath is the :path of a request target: an absolute URL's path part (Envoy's codec keeps
// only it), anything else as sent.
func requestPath(target string) string {
	for _, scheme := range []string{"http://", "https://"} {
		if len(target) > len(scheme) && strings.EqualFold(target[:len(scheme)], scheme) {
			rest := target[len(scheme):]
			if i := strings.IndexAny(rest, "/?"); i >= 0 {
				if rest[i] == '?' {
					return "/" + rest[i:]
				}
				return rest[i:]
			}
			return "/"
		}
	}
	return target
}

// run is the connection manager's decodeHeaders (CMI): header sanitising, path checks and hygiene,
// routing, the upgrade check, then the filter chain. The connection manager's own replies come
// before any filter exists, so no encoder filter sees them.
func (s *stream) run() *response {
	if s.r.ProtoMajor == 1 && s.r.ProtoMinor == 0 {
		return localReply(http.StatusUpgradeRequired, "", "DPE") // accept_http_10 is off
	}
	s.mutateRequest()
	if s.req.path == "" || s.req.path[0] != '/' {
		return localReply(http.StatusNotFound, "", "") // absolute_path required
	}
	p, action := s.hcm.normalize(s.req.path)
	switch action {
	case pathReject:
		return localReply(http.StatusBadRequest, "", "DPE")
	case pathRedirect:
		resp := localReply(http.StatusTemporaryRedirect, "", "")
		setHeader(resp.header, "location", p)
		return resp
	}
	s.req.path = p
	s.route()
	if u := s.upgradeType(); u != "" && !s.upgradeAllowed(u) {
		return localReply(http.StatusForbidden, "", "")
	}
	for _, f := range s.hcm.filters {
		s.instances = append(s.instances, f.newInstance())
	}
	for _, f := range s.instances {
		if resp := f.decodeHeaders(s); resp != nil {
			return s.encode(resp)
		}
	}
	s.e.fail("the router answered nothing") // unreachable: the router always answers
	return s.encode(localReply(http.StatusInternalServerError, "", ""))
}

// route resolves the route on the request as it is now (Envoy's cached route).
func (s *stream) route() {
	s.decision, s.routed = routeeval.Decision{}, s.req.path
	if s.routes != nil {
		s.decision = s.routes.router.Route(s.evalRequest())
	}
}

func (s *stream) evalRequest() routeeval.Request {
	return routeeval.Request{Authority: s.req.authority, Method: s.req.method, Path: s.req.path, Scheme: s.req.scheme,
		Headers: s.req.headers, Random: s.id, RemoteAddress: s.remote}
}

// encode runs every filter's encodeHeaders, last filter first.
func (s *stream) encode(resp *response) *response {
	for i := len(s.instances) - 1; i >= 0; i-- {
		s.instances[i].encodeHeaders(s, resp)
	}
	return resp
}

// upgradeType is the request's upgrade, lower-case ("" if none): an Upgrade header and "upgrade"
// among the Connection tokens (Utility::isUpgrade).
func (s *stream) upgradeType() string {
	u, ok := s.req.headers["upgrade"]
	if !ok || s.r.ProtoMajor != 1 {
		return ""
	}
	for _, t := range strings.Split(s.r.Header.Get("Connection"), ",") {
		if strings.EqualFold(strings.TrimSpace(t), "upgrade") {
			return strings.ToLower(u)
		}
	}
	return ""
}

// upgradeAllowed: the route's upgrade_configs decide, else the connection manager's (CMI
// createFilterChain; an upgrade neither allows is refused with 403).
func (s *stream) upgradeAllowed(u string) bool {
	for _, t := range s.decision.Upgrades {
		if t == u {
			return true
		}
	}
	for _, t := range s.decision.DisabledUpgrades {
		if t == u {
			return false
		}
	}
	return s.hcm.upgrades[u]
}

// countingReader is the request body: bytes a filter buffered (pre) come first again, and the
// bytes received downstream are counted (BYTES_RECEIVED) once.
type countingReader struct {
	r   io.Reader
	pre []byte
	n   int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// hostOnly is the address part of "ip:port".
func hostOnly(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
