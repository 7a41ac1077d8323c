package bearer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// clock is the injected clock of the tests; it only moves when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testKey is a signing key of the test issuer.
type testKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

// keys are generated once per test binary: RSA generation is slow under -race.
var keys = struct {
	sync.Mutex
	m map[string]*testKey
}{m: map[string]*testKey{}}

// key returns the named key: names starting with "ec" are ES256 (P-256), others RS256 (RSA 2048).
func key(t testing.TB, kid string) *testKey {
	t.Helper()
	keys.Lock()
	defer keys.Unlock()
	if k, ok := keys.m[kid]; ok {
		return k
	}
	k := &testKey{kid: kid, alg: jose.RS256}
	var err error
	if strings.HasPrefix(kid, "ec") {
		k.alg = jose.ES256
		k.priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		k.priv, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	keys.m[kid] = k
	return k
}

// sign makes a compact JWT of claims with this key (its kid in the header).
func (k *testKey) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// publicPEM is the key's public half in PEM, what an attacker would use as an HMAC secret.
func (k *testKey) publicPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// handMade builds a JWT from a header and claims with a raw signature, for algorithms go-jose will
// not sign with here (none) or that must be forged (HS256 with a public key).
func handMade(t testing.TB, header, claims map[string]any, sign func(input string) []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(sign(input))
}

func hs256(secret []byte) func(string) []byte {
	return func(input string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(input))
		return m.Sum(nil)
	}
}

// testIssuer is an OIDC issuer on a loopback port: discovery and a JWKS of the published keys.
type testIssuer struct {
	srv *httptest.Server
	iss string // the issuer it names: srv.URL unless set otherwise

	mu        sync.Mutex
	published []*testKey
	down      bool   // discovery and JWKS answer 503
	docIssuer string // when set, the discovery document names this issuer instead

	discoveryHits, jwksHits atomic.Int32
}

func newTestIssuer(t testing.TB, published ...*testKey) *testIssuer {
	return startTestIssuer(t, false, published...)
}

func startTestIssuer(t testing.TB, tlsServer bool, published ...*testKey) *testIssuer {
	t.Helper()
	ti := &testIssuer{published: published}
	h := http.HandlerFunc(ti.serve)
	ti.srv = httptest.NewUnstartedServer(h)
	ti.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the CA tests fail handshakes on purpose
	if tlsServer {
		ti.srv.StartTLS()
	} else {
		ti.srv.Start()
	}
	t.Cleanup(ti.srv.Close)
	ti.iss = ti.srv.URL
	return ti
}

func (ti *testIssuer) serve(w http.ResponseWriter, r *http.Request) {
	ti.mu.Lock()
	down, published, docIssuer, iss := ti.down, ti.published, ti.docIssuer, ti.iss
	ti.mu.Unlock()
	if docIssuer == "" {
		docIssuer = iss
	}
	var doc any
	switch {
	case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
		ti.discoveryHits.Add(1)
		doc = map[string]any{"issuer": docIssuer, "jwks_uri": iss + "/keys",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"}}
	case strings.HasSuffix(r.URL.Path, "/keys"):
		ti.jwksHits.Add(1)
		set := jose.JSONWebKeySet{}
		for _, k := range published {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
		}
		doc = set
	default:
		http.NotFound(w, r)
		return
	}
	if down {
		http.Error(w, "down for the test", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

func (ti *testIssuer) publish(ks ...*testKey) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.published = ks
}

func (ti *testIssuer) setDown(down bool) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.down = down
}

// caFile writes the TLS server's certificate as a PEM bundle.
func (ti *testIssuer) caFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ti.srv.Certificate().Raw})
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// claims are a valid token's claims for this issuer at now, changed by over (a nil value deletes).
func (ti *testIssuer) claims(now time.Time, over map[string]any) map[string]any {
	c := map[string]any{
		"iss":            ti.iss,
		"aud":            "kfgate",
		"sub":            "CgVhbGljZRIFbG9jYWw",
		"email":          "alice@example.com",
		"email_verified": true,
		"groups":         []string{"team-a", "team-b"},
		"iat":            now.Unix(),
		"exp":            now.Add(time.Hour).Unix(),
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}
