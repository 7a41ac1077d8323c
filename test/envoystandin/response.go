package envoystandin

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// response is what goes back downstream: a local reply or the upstream's response.
type response struct {
	status  int
	header  headerMap
	body    io.ReadCloser
	trailer func() http.Header // the upstream's trailers, once its body is read
	upgrade io.ReadWriteCloser // the upstream side of a proxied upgrade (a 101)
	local   bool
	flag    string // the response flag this reply sets, for the access log
}

// localReply is Envoy's sendLocalReply (Utility::prepareLocalReply): a body gets content-length
// and content-type text/plain.
func localReply(status int, body, flag string) *response {
	r := &response{status: status, header: headerMap{}, local: true, flag: flag}
	if body != "" {
		r.header["content-type"] = []string{"text/plain"}
		r.header["content-length"] = []string{strconv.Itoa(len(body))}
		r.body = io.NopCloser(strings.NewReader(body))
	} else {
		r.header["content-length"] = []string{"0"}
	}
	return r
}

// headerMap is a response header map as Envoy keeps it: lower-case names, each line a value.
type headerMap map[string][]string

// setHeader and addHeader work on lower-case names.
func setHeader(h headerMap, k, v string) { h[strings.ToLower(k)] = []string{v} }
func addHeader(h headerMap, k, v string) { k = strings.ToLower(k); h[k] = append(h[k], v) }

// respond is the connection manager's encodeHeaders and the codec: response header sanitising
// (CMU mutateResponseHeaders), the request id, server and date headers, then the bytes.
func (s *stream) respond(resp *response) {
	h := resp.header
	if resp.upgrade == nil {
		delete(h, "connection")
		delete(h, "upgrade")
	}
	for _, k := range []string{"transfer-encoding", "keep-alive", "proxy-connection"} {
		delete(h, k)
	}
	if id, ok := s.req.headers["x-request-id"]; ok && s.hcm.idInResponse {
		setHeader(h, "x-request-id", id)
	}
	setHeader(h, "server", s.hcm.serverName) // server_header_transformation OVERWRITE
	setHeader(h, "date", time.Now().UTC().Format(http.TimeFormat))
	if resp.flag != "" {
		s.flags = append(s.flags, resp.flag)
	}
	draining := s.cfg != nil && s.e.cfg.Load().activeOn(s.conn.info.listener.port) != s.conn.info.listener
	if draining && s.r.ProtoMajor == 1 {
		setHeader(h, "connection", "close") // a drained listener's connections close (HTTP/1.1)
	}
	if ct := s.req.headers["content-type"]; resp.local && strings.HasPrefix(ct, "application/grpc") {
		s.e.fail("a local reply to a gRPC request (Envoy answers trailers-only, grpc-status from the HTTP status) is not implemented")
	}
	sent := s.write(resp)
	s.log(resp, sent)
}

// write sends the response; it returns the body bytes sent.
func (s *stream) write(resp *response) int64 {
	out := s.w.Header()
	for k, vs := range resp.header {
		out[http.CanonicalHeaderKey(k)] = vs
	}
	if _, ok := resp.header["content-type"]; !ok {
		out["Content-Type"] = nil // no sniffing: Envoy adds no content-type
	}
	if resp.upgrade != nil {
		return s.pipeUpgrade(resp)
	}
	s.w.WriteHeader(resp.status)
	var n int64
	if resp.body != nil {
		var err error
		if s.r.Method != http.MethodHead {
			n, err = io.Copy(flushWriter{s.w}, resp.body)
		}
		_ = resp.body.Close()
		if err != nil {
			// The upstream reset or the route timeout expired mid-body: Envoy resets the stream,
			// so the client must not see a complete response.
			panic(http.ErrAbortHandler)
		}
	}
	if resp.trailer != nil {
		for k, vs := range resp.trailer() {
			out[http.TrailerPrefix+http.CanonicalHeaderKey(k)] = vs
		}
	}
	return n
}

// flushWriter flushes after every write, as Envoy streams a body (no buffering of the response).
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}
