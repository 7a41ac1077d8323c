package authn_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/kfgate/kfgate/authn"
	"github.com/kfgate/kfgate/test/oidcprovider"
)

const (
	gatewayHost = "gateway.test"
	clientID    = "kfgate"
	secret      = "kfgate-secret-of-the-test"
	html        = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
)

var callbackURL = "https://" + gatewayHost + "/authservice/oidc/callback"

// clock is the injected time: real time plus an offset tests move forward, so that tokens the real
// provider issues stay consistent with it.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// world is a running kfgate authn (its real gRPC server) and a real OpenID provider.
type world struct {
	t      *testing.T
	idp    *oidcprovider.Provider
	srv    *authn.Server
	client authv3.AuthorizationClient
	clock  *clock
	http   string // the HTTP server's address
	cfg    authn.Config
}

// newWorld starts the provider and kfgate authn; edit changes the configuration first.
func newWorld(t *testing.T, opts oidcprovider.Options, edit func(*authn.Config)) *world {
	t.Helper()
	opts.Clients = append(opts.Clients, oidcprovider.Client{
		ID: clientID, Secret: secret, RedirectURIs: []string{callbackURL},
		PostLogoutRedirectURIs: []string{"https://" + gatewayHost + "/"},
	})
	idp := oidcprovider.Start(t, opts)
	cfg := testConfig(t, idp.Issuer)
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return startServer(t, cfg, idp)
}

// testConfig is the configuration of a test against the provider at issuer.
func testConfig(t *testing.T, issuer string) authn.Config {
	dir := t.TempDir()
	cfg := authn.Defaults()
	cfg.OIDC.Issuer = issuer
	cfg.OIDC.ClientID = clientID
	cfg.OIDC.ClientSecretFile = writeFile(t, dir, "client-secret", secret+"\n")
	cfg.Session.KeyFiles = []string{writeFile(t, dir, "key", newKey())}
	return cfg
}

func startServer(t *testing.T, cfg authn.Config, idp *oidcprovider.Provider) *world {
	t.Helper()
	w := &world{t: t, idp: idp, clock: &clock{}, cfg: cfg}
	startServerNoWait(t, w)
	w.waitReady()
	return w
}

// startServerNoWait starts kfgate authn for w without waiting for readiness.
func startServerNoWait(t *testing.T, w *world) *authn.Server {
	t.Helper()
	srv, err := authn.NewServer(w.cfg, authn.Options{Log: testLog(t), Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	w.serve(srv)
	return srv
}

// serve runs srv on fresh loopback listeners until the test ends, and connects w's client to it.
func (w *world) serve(srv *authn.Server) {
	t := w.t
	w.srv = srv
	gl := listen(t)
	hl := listen(t)
	w.http = hl.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, gl, hl) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	conn, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	w.client = authv3.NewAuthorizationClient(conn)
}

func (w *world) waitReady() {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + w.http + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.t.Fatal("kfgate authn did not become ready")
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func testLog(t *testing.T) logr.Logger {
	if os.Getenv("KFGATE_TEST_LOG") == "" {
		return logr.Discard()
	}
	z, _ := zap.NewDevelopment()
	return zapr.NewLogger(z).WithName(t.Name())
}

// browser plays a browser behind Envoy: it keeps the cookies kfgate sets, and sends each request to
// Check the way Envoy's ext_authz filter does (pseudo-headers included, lower-case names).
type browser struct {
	w   *world
	mu  sync.Mutex
	jar map[string]*http.Cookie
	ip  string
	// idp is the browser's client for the provider's own pages (its own cookie jar).
	idp *http.Client
	// sent are the headers of the last request, as Envoy had them.
	sent map[string]string
}

func (w *world) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{w: w, jar: map[string]*http.Cookie{}, ip: "192.0.2.10", idp: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// check sends one request through Check and applies any cookies of the answer.
func (b *browser) check(method, path string, headers map[string]string, ext map[string]string) *authv3.CheckResponse {
	b.w.t.Helper()
	h := map[string]string{
		":authority": gatewayHost, ":path": path, ":method": method, ":scheme": "https",
		"user-agent": "kfgate-test", "x-forwarded-proto": "https", "x-request-id": "test",
	}
	if c := b.cookieHeader(); c != "" {
		h["cookie"] = c
	}
	for k, v := range headers {
		h[k] = v
	}
	b.mu.Lock()
	b.sent = h
	b.mu.Unlock()
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: b.ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 50000}},
		}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "1", Method: method, Path: path, Host: gatewayHost, Scheme: "https", Protocol: "HTTP/1.1", Headers: h,
		}},
		ContextExtensions: ext,
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := b.w.client.Check(ctx, req)
	if err != nil {
		b.w.t.Fatalf("Check %s %s: %v", method, path, err)
	}
	b.apply(resp)
	return resp
}

func (b *browser) get(path string) *authv3.CheckResponse {
	return b.check("GET", path, map[string]string{"accept": html}, nil)
}

func (b *browser) cookieHeader() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	names := make([]string, 0, len(b.jar))
	for n := range b.jar {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, n+"="+b.jar[n].Value)
	}
	return strings.Join(parts, "; ")
}

func (b *browser) apply(resp *authv3.CheckResponse) {
	var lines []string
	for _, h := range resp.GetOkResponse().GetResponseHeadersToAdd() {
		if h.GetHeader().GetKey() == "set-cookie" {
			lines = append(lines, h.GetHeader().GetValue())
		}
	}
	for _, h := range resp.GetDeniedResponse().GetHeaders() {
		if h.GetHeader().GetKey() == "set-cookie" {
			lines = append(lines, h.GetHeader().GetValue())
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range lines {
		c, err := http.ParseSetCookie(l)
		if err != nil {
			b.w.t.Errorf("kfgate set a malformed cookie %q: %v", l, err)
			continue
		}
		if c.MaxAge < 0 {
			delete(b.jar, c.Name)
			continue
		}
		b.jar[c.Name] = c
	}
}

func (b *browser) cookies() map[string]*http.Cookie {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]*http.Cookie, len(b.jar))
	for k, v := range b.jar {
		out[k] = v
	}
	return out
}

// login runs a full login starting at path and returns the callback's answer.
func (b *browser) login(path string, user oidcprovider.User) *authv3.CheckResponse {
	b.w.t.Helper()
	start := b.get(path)
	loc := location(b.w.t, start, http.StatusFound)
	cb := b.idpLogin(loc, user)
	return b.get(cb.RequestURI())
}

// idpLogin signs in at the provider and returns the redirect back to the gateway.
func (b *browser) idpLogin(authorizeURL string, user oidcprovider.User) *url.URL {
	b.w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cb, err := b.w.idp.Login(ctx, b.idp, authorizeURL, user.Email, user.Password)
	if err != nil {
		b.w.t.Fatalf("logging in at the provider: %v", err)
	}
	if cb.Host != gatewayHost {
		b.w.t.Fatalf("the provider sent the browser to %s, want the gateway", cb)
	}
	return cb
}

// status is the HTTP status Envoy would answer with (200 for allowed requests).
func status(resp *authv3.CheckResponse) int {
	if resp.GetOkResponse() != nil && resp.GetStatus().GetCode() == 0 {
		return http.StatusOK
	}
	if c := resp.GetDeniedResponse().GetStatus().GetCode(); c != 0 {
		return int(c)
	}
	return http.StatusForbidden
}

func location(t *testing.T, resp *authv3.CheckResponse, want int) string {
	t.Helper()
	if got := status(resp); got != want {
		t.Fatalf("status %d, want %d; body %q", got, want, resp.GetDeniedResponse().GetBody())
	}
	return deniedHeader(resp, "location")
}

func deniedHeader(resp *authv3.CheckResponse, name string) string {
	for _, h := range resp.GetDeniedResponse().GetHeaders() {
		if h.GetHeader().GetKey() == name {
			return h.GetHeader().GetValue()
		}
	}
	return ""
}

// upstream is what the upstream app receives: the request headers after Envoy applied the OK response.
func upstream(t *testing.T, sent map[string]string, resp *authv3.CheckResponse) map[string]string {
	t.Helper()
	ok := resp.GetOkResponse()
	if ok == nil || resp.GetStatus().GetCode() != 0 {
		t.Fatalf("request denied: %d %q", status(resp), resp.GetDeniedResponse().GetBody())
	}
	out := map[string]string{}
	for k, v := range sent {
		out[k] = v
	}
	for _, h := range ok.GetHeaders() {
		if h.GetAppend().GetValue() { //nolint:staticcheck // the field Envoy <= 1.37 still honours

			t.Fatalf("header %s appended: kfgate must overwrite identity headers", h.GetHeader().GetKey())
		}
		out[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	for _, k := range ok.GetHeadersToRemove() {
		if !strings.HasPrefix(k, ":") && k != "host" {
			delete(out, k)
		}
	}
	return out
}
