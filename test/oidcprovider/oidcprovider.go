// Package oidcprovider runs a real OpenID provider (the npm package oidc-provider, see
// provider.mjs) on 127.0.0.1 for Go tests, and drives it the way a browser would.
//
// Node.js and this directory's node_modules are needed: run test/oidcprovider/install.sh
// (make test does) before go test.
package oidcprovider

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kfgate/kfgate/test/testproc"
)

// The client Tokens uses; Start always registers it.
const (
	TokensClientID     = "tokens"
	TokensClientSecret = "tokens-secret"
	TokensRedirectURI  = "http://127.0.0.1/tokens-callback"
)

// startTimeout bounds how long Start and Restart wait for the READY line.
const startTimeout = 30 * time.Second

// User is a static account. ID is the subject; the login form accepts ID or Email.
type User struct {
	ID, Email, Name, Password string
	Groups                    []string
	// UnverifiedEmail makes the email_verified claim false.
	UnverifiedEmail bool
}

// Client is a relying party allowed the authorization_code and refresh_token grants with
// response type code. An empty Secret makes it a public client; PKCE S256 is always required.
type Client struct {
	ID, Secret                           string
	RedirectURIs, PostLogoutRedirectURIs []string
}

// Options configures Start. Zero values get the defaults noted on each field.
type Options struct {
	// Users defaults to DefaultUser alone.
	Users []User
	// Clients are the relying parties; the "tokens" client is always added.
	Clients []Client
	// TTLs default to 1h, 1h and 24h. Sessions and grants last 24h, interactions 10m.
	IDTokenTTL, AccessTokenTTL, RefreshTokenTTL time.Duration
}

// DefaultUser is the only user when Options.Users is empty.
var DefaultUser = User{
	ID:       "user-1",
	Email:    "user@example.com",
	Name:     "Test User",
	Password: "12341234",
	Groups:   []string{"admins", "users"},
}

// Provider is a running (or stopped) oidc-provider process.
type Provider struct {
	// Issuer is http://127.0.0.1:PORT; it stays the same across Restart.
	Issuer string

	dir    string // this package's directory, holding provider.mjs
	config []byte // JSON for provider.mjs, with a fixed port once the first start chose one
	key    *rsa.PrivateKey
	kid    string

	mu   sync.Mutex
	proc *process // nil when stopped
}

type process struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	output *testproc.Buffer
	exited chan struct{} // closed when cmd.Wait returns
}

// Start runs provider.mjs and waits until it listens. It is stopped by t.Cleanup.
func Start(t testing.TB, opts Options) *Provider {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("oidcprovider: cannot locate provider.mjs")
	}
	dir := filepath.Dir(file)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err != nil {
		t.Fatalf("oidcprovider: oidc-provider is not installed; run test/oidcprovider/install.sh (%v)", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("oidcprovider: node is not on PATH: %v", err)
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("oidcprovider: generate signing key: %v", err)
	}
	p := &Provider{dir: dir, key: key, kid: "kfgate-test-" + randomHex(8)}
	cfg := p.buildConfig(opts)
	if p.config, err = json.Marshal(cfg); err != nil {
		t.Fatalf("oidcprovider: %v", err)
	}
	t.Cleanup(p.Stop)

	p.Issuer = p.start(t)
	// Restart must come back on the same port so the issuer (and cookies, URLs) still match.
	u, err := url.Parse(p.Issuer)
	if err != nil {
		t.Fatalf("oidcprovider: bad issuer %q: %v", p.Issuer, err)
	}
	var port int
	if _, err := fmt.Sscan(u.Port(), &port); err != nil {
		t.Fatalf("oidcprovider: bad issuer port %q: %v", p.Issuer, err)
	}
	cfg.Port = port
	if p.config, err = json.Marshal(cfg); err != nil {
		t.Fatalf("oidcprovider: %v", err)
	}
	return p
}

// SigningKey returns the key ID and public key that sign every ID token, across restarts.
func (p *Provider) SigningKey() (kid string, pub *rsa.PublicKey) { return p.kid, &p.key.PublicKey }

// Stop kills the process and waits for it to exit, so the port refuses connections
// (for "IdP unreachable" tests). Stopping a stopped provider does nothing.
func (p *Provider) Stop() {
	p.mu.Lock()
	proc := p.proc
	p.proc = nil
	p.mu.Unlock()
	if proc == nil {
		return
	}
	_ = proc.cmd.Process.Kill()
	<-proc.exited
}

// Restart stops the provider if it runs and starts it again on the same port with the same
// signing key, users and clients: ID tokens issued before still verify. Everything stateful
// (sessions, codes, opaque access tokens, refresh tokens) is in memory and is lost.
func (p *Provider) Restart(t testing.TB) {
	t.Helper()
	p.Stop()
	if got := p.start(t); got != p.Issuer {
		t.Fatalf("oidcprovider: restarted as %s, want %s", got, p.Issuer)
	}
}

// start launches node and returns the issuer from its READY line.
func (p *Provider) start(t testing.TB) string {
	t.Helper()
	out := &testproc.Buffer{}
	ready := make(chan string, 1)
	cmd := exec.Command("node", "provider.mjs")
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "OIDC_PROVIDER_CONFIG="+string(p.config))
	cmd.Stdout = &readyWriter{buf: out, ready: ready}
	cmd.Stderr = out
	if os.Getenv("OIDC_DEBUG") != "" {
		cmd.Stderr = io.MultiWriter(out, os.Stderr)
	}
	// provider.mjs exits when stdin closes: if this test binary dies, node goes too.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("oidcprovider: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("oidcprovider: start node: %v", err)
	}
	proc := &process{cmd: cmd, stdin: stdin, output: out, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(proc.exited)
	}()

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case issuer := <-ready:
		p.mu.Lock()
		p.proc = proc
		p.mu.Unlock()
		return issuer
	case <-proc.exited:
		t.Fatalf("oidcprovider: node exited before READY (%v):\n%s", cmd.ProcessState, out)
	case <-timer.C:
		_ = cmd.Process.Kill()
		<-proc.exited
		t.Fatalf("oidcprovider: no READY within %v:\n%s", startTimeout, out)
	}
	return ""
}

// Output returns what the current process printed so far, for failure messages.
func (p *Provider) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return ""
	}
	return p.proc.output.String()
}

// config is provider.mjs's input; see the comment at its top.
type config struct {
	Port       int               `json:"port"`
	JWK        map[string]string `json:"jwk"`
	CookieKeys []string          `json:"cookieKeys"`
	Users      []userConfig      `json:"users"`
	Clients    []clientConfig    `json:"clients"`
	TTL        map[string]int    `json:"ttl"`
}

type userConfig struct {
	ID            string   `json:"id"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"emailVerified"`
	Name          string   `json:"name"`
	Password      string   `json:"password"`
	Groups        []string `json:"groups"`
}

type clientConfig struct {
	ID                     string   `json:"client_id"`
	Secret                 string   `json:"client_secret,omitempty"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
}

func (p *Provider) buildConfig(opts Options) *config {
	users := opts.Users
	if len(users) == 0 {
		users = []User{DefaultUser}
	}
	cfg := &config{
		JWK:        privateJWK(p.key, p.kid),
		CookieKeys: []string{randomHex(32)},
		TTL: map[string]int{
			"IdToken":      seconds(opts.IDTokenTTL, time.Hour),
			"AccessToken":  seconds(opts.AccessTokenTTL, time.Hour),
			"RefreshToken": seconds(opts.RefreshTokenTTL, 24*time.Hour),
		},
	}
	for _, u := range users {
		groups := u.Groups
		if groups == nil {
			groups = []string{} // the claim is always a JSON array
		}
		cfg.Users = append(cfg.Users, userConfig{
			ID: u.ID, Email: u.Email, EmailVerified: !u.UnverifiedEmail,
			Name: u.Name, Password: u.Password, Groups: groups,
		})
	}
	clients := append(append([]Client(nil), opts.Clients...), Client{
		ID: TokensClientID, Secret: TokensClientSecret, RedirectURIs: []string{TokensRedirectURI},
	})
	for _, c := range clients {
		cfg.Clients = append(cfg.Clients, clientConfig{
			ID: c.ID, Secret: c.Secret,
			RedirectURIs:           nonNil(c.RedirectURIs),
			PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		})
	}
	return cfg
}

// privateJWK encodes key as an RFC 7518 RSA private JWK, which oidc-provider imports as is.
func privateJWK(key *rsa.PrivateKey, kid string) map[string]string {
	key.Precompute()
	b64 := func(i *big.Int) string { return base64.RawURLEncoding.EncodeToString(i.Bytes()) }
	return map[string]string{
		"kty": "RSA",
		"kid": kid,
		"n":   b64(key.N),
		"e":   b64(big.NewInt(int64(key.E))),
		"d":   b64(key.D),
		"p":   b64(key.Primes[0]),
		"q":   b64(key.Primes[1]),
		"dp":  b64(key.Precomputed.Dp),
		"dq":  b64(key.Precomputed.Dq),
		"qi":  b64(key.Precomputed.Qinv),
	}
}

// seconds converts d to whole seconds (at least 1), using def when d is zero.
func seconds(d, def time.Duration) int {
	if d == 0 {
		d = def
	}
	return max(1, int(d/time.Second))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// readyWriter copies stdout into buf and reports the issuer of the first "READY " line.
type readyWriter struct {
	buf   *testproc.Buffer
	ready chan<- string
	line  []byte
	done  bool
}

func (w *readyWriter) Write(b []byte) (int, error) {
	_, _ = w.buf.Write(b)
	for _, c := range b {
		if w.done {
			break
		}
		if c != '\n' {
			w.line = append(w.line, c)
			continue
		}
		if issuer, ok := strings.CutPrefix(string(w.line), "READY "); ok {
			w.ready <- strings.TrimSpace(issuer)
			w.done = true
		}
		w.line = w.line[:0]
	}
	return len(b), nil
}
