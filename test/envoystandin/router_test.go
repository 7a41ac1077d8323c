package envoystandin_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kfgate/kfgate/test/envoystandin"
)

// startUpstream serves h on 127.0.0.1 and returns its port.
func startUpstream(t *testing.T, h http.Handler) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: h}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	return lis.Addr().(*net.TCPAddr).Port
}

func mappingTo(name, prefix string, port int, extra string) string {
	return fmt.Sprintf("---\napiVersion: getambassador.io/v2\nkind: Mapping\nname: %s\nprefix: %s\nservice: 127.0.0.1:%d\n%s",
		name, prefix, port, extra)
}

// TestRouterRetriesTimeoutsCanaries: a retry_policy retries a 503; a route timeout answers 504;
// weighted clusters share requests by the stream id; the access log has kfgate's JSON line.
func TestRouterRetriesTimeoutsCanaries(t *testing.T) {
	var calls atomic.Int64
	flaky := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	slow := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	named := func(name string) int {
		return startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, name) }))
	}
	stable, canary := named("stable"), named("canary")
	cp := startControlPlane(t)
	cp.apply("" +
		mappingTo("retry", "/retry/", flaky, "retry_policy:\n  retry_on: 5xx\n  num_retries: 2\n") +
		mappingTo("slow", "/slow/", slow, "timeout_ms: 200\n") +
		mappingTo("stable", "/svc/", stable, "") +
		mappingTo("canary", "/svc/", canary, "weight: 50\n"))
	logs := lineWriter{lines: make(chan string, 64)}
	e := startEnvoy(t, cp, envoystandin.Options{AccessLog: logs, Seed: 7})
	waitRoutes(t, e, cp)
	addr := e.Addr(8080)

	if resp := get(t, addr, "/retry/x", nil); resp.StatusCode != http.StatusOK || calls.Load() != 2 {
		t.Errorf("retried request: %d after %d calls; want 200 after 2", resp.StatusCode, calls.Load())
	}
	resp := get(t, addr, "/slow/x", nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusGatewayTimeout || string(body) != "upstream request timeout" {
		t.Errorf("route timeout: %d %q; want 504 upstream request timeout", resp.StatusCode, body)
	}
	hits := map[string]int{}
	for range 40 {
		b, _ := io.ReadAll(get(t, addr, "/svc/", nil).Body)
		hits[string(b)]++
	}
	if hits["stable"] == 0 || hits["canary"] == 0 || hits["stable"]+hits["canary"] != 40 {
		t.Errorf("weighted clusters: %v; want both served", hits)
	}

	var line string
	select {
	case line = <-logs.lines:
	case <-time.After(waitFor):
		t.Fatal("no access log line")
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(line), &entry); err != nil {
		t.Fatalf("access log line %q: %v", line, err)
	}
	if entry["path"] != "/retry/x" || entry["response_code"] != float64(200) || entry["route"] == nil || entry["method"] != "GET" {
		t.Errorf("access log entry %v: want the first request, its original path and status", entry)
	}
}

// TestWebSocketUpgrade: an upgrade the route allows is proxied both ways.
func TestWebSocketUpgrade(t *testing.T) {
	port := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer func() { _ = c.Close() }()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		line, _ := brw.ReadString('\n')
		_, _ = brw.WriteString("echo " + line)
		_ = brw.Flush()
	}))
	cp := startControlPlane(t)
	cp.apply(mappingTo("ws", "/ws/", port, "use_websocket: true\n") + mappingTo("plain", "/plain/", port, ""))
	e := startEnvoy(t, cp, envoystandin.Options{})
	waitRoutes(t, e, cp)

	c, err := net.Dial("tcp", e.Addr(8080))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(c, "GET /ws/x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v; want 101", resp, err)
	}
	fmt.Fprint(c, "hello\n")
	if got, _ := br.ReadString('\n'); got != "echo hello\n" {
		t.Fatalf("through the upgrade: %q, want the upstream's echo", got)
	}

	if resp := request(t, http.MethodGet, e.Addr(8080), "/plain/x", map[string]string{"Upgrade": "websocket", "Connection": "Upgrade"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an upgrade the route does not allow: %d, want 403", resp.StatusCode)
	}
}

// lineWriter hands over each access log line: the stand-in writes a line once the response is
// sent, as Envoy does, so a test waits for it.
type lineWriter struct{ lines chan string }

func (l lineWriter) Write(p []byte) (int, error) {
	l.lines <- string(p)
	return len(p), nil
}
