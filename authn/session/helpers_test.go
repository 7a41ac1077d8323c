package session

import (
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// t0 is the fixed "now" of the unit tests.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535_897_932, time.UTC)

// seeded returns a deterministic random source, so sealed values and IDs repeat run to run.
func seeded(seed byte) io.Reader {
	return rand.NewChaCha8([32]byte{seed})
}

// testKey is a fixed 32-byte key, distinct per n.
func testKey(n byte) []byte {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = n*31 + byte(i)
	}
	return k
}

func testKeyring(t testing.TB, keys ...[]byte) *Keyring {
	t.Helper()
	if len(keys) == 0 {
		keys = [][]byte{testKey(1)}
	}
	k, err := NewKeyring(keys, seeded(7))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// clock is a settable Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(now time.Time) *clock { return &clock{now: now} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testSession is a session created at now with recognisable tokens.
func testSession(t testing.TB, now time.Time, seed byte) *Session {
	t.Helper()
	id, err := NewID(seeded(seed))
	if err != nil {
		t.Fatal(err)
	}
	return &Session{
		ID:           id,
		User:         "alice@example.com",
		Groups:       []string{"admins", "ml-team"},
		Subject:      "248289761001",
		Issuer:       "https://idp.example.com",
		IDToken:      "eyJhbGciOiJSUzI1NiJ9.ID-TOKEN-SECRET.sig",
		RefreshToken: "REFRESH-TOKEN-SECRET",
		Expiry:       now.Add(5 * time.Minute),
		Created:      now,
		LastSeen:     now,
	}
}

func testCookieStore(t testing.TB, c *clock, o Options) *CookieStore {
	t.Helper()
	if o.Now == nil {
		o.Now = c.Now
	}
	if o.Rand == nil {
		o.Rand = seeded(9)
	}
	s, err := NewCookieStore(testKeyring(t), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// browser applies Set-Cookie cookies to a jar the way a browser does for one host, and returns
// what it would send back.
type browser map[string]string

func (b browser) apply(set []*http.Cookie) {
	for _, c := range set {
		if c.MaxAge < 0 {
			delete(b, c.Name)
			continue
		}
		b[c.Name] = c.Value
	}
}

func (b browser) cookies() []*http.Cookie {
	var out []*http.Cookie
	for name, value := range b {
		out = append(out, &http.Cookie{Name: name, Value: value})
	}
	return out
}

// mustNotLeak fails when err's message contains any of the secrets.
func mustNotLeak(t testing.TB, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains secret material %.20q...", err, s)
		}
	}
}

func sameSession(t testing.TB, got, want *Session) {
	t.Helper()
	if got == nil {
		t.Fatal("nil session")
	}
	if got.ID != want.ID || got.User != want.User || got.Subject != want.Subject || got.Issuer != want.Issuer ||
		got.IDToken != want.IDToken || got.RefreshToken != want.RefreshToken ||
		strings.Join(got.Groups, ",") != strings.Join(want.Groups, ",") ||
		!got.Expiry.Equal(want.Expiry) || !got.Created.Equal(want.Created) || !got.LastSeen.Equal(want.LastSeen) {
		t.Fatalf("session differs:\n got %+v\nwant %+v", got, want)
	}
}
