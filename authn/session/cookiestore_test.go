package session

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func saveTo(t *testing.T, st Store, b browser, s *Session) []*http.Cookie {
	t.Helper()
	set, err := st.Save(t.Context(), s, b.cookies())
	if err != nil {
		t.Fatal(err)
	}
	b.apply(set)
	return set
}

func TestCookieStoreRoundTrip(t *testing.T) {
	c := newClock(t0)
	st := testCookieStore(t, c, Options{Secure: true})
	s := testSession(t, t0, 1)
	b := browser{}
	set := saveTo(t, st, b, s)
	if len(set) != 1 || set[0].Name != "__Host-kfgate-session" {
		t.Fatalf("cookies %v", set)
	}
	for _, secret := range []string{s.RefreshToken, s.IDToken, s.User, s.ID} {
		if strings.Contains(set[0].Value, secret) {
			t.Fatalf("cookie value contains %q in the clear", secret)
		}
	}
	c.Advance(30 * time.Minute)
	got, err := st.Load(t.Context(), append(b.cookies(), &http.Cookie{Name: "other", Value: "x"}))
	if err != nil {
		t.Fatal(err)
	}
	sameSession(t, got, s)
}

func TestCookieStoreNoSession(t *testing.T) {
	st := testCookieStore(t, newClock(t0), Options{Secure: true})
	for _, cookies := range [][]*http.Cookie{
		nil, {}, {nil}, {{Name: "kfgate-session", Value: "x"}}, {{Name: "__Host-kfgate-session-8", Value: "x"}},
	} {
		if _, err := st.Load(t.Context(), cookies); !errors.Is(err, ErrNoSession) {
			t.Errorf("Load(%v) err = %v, want ErrNoSession", cookies, err)
		}
	}
}

func TestCookieStoreExpired(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		c := newClock(t0)
		st := testCookieStore(t, c, Options{})
		b := browser{}
		saveTo(t, st, b, testSession(t, t0, 1))
		c.Advance(time.Hour)
		if _, err := st.Load(t.Context(), b.cookies()); err != nil {
			t.Fatalf("at the idle deadline: %v", err)
		}
		c.Advance(time.Millisecond)
		if _, err := st.Load(t.Context(), b.cookies()); !errors.Is(err, ErrExpired) {
			t.Fatalf("past the idle deadline: err = %v, want ErrExpired", err)
		}
	})
	t.Run("absolute", func(t *testing.T) {
		c := newClock(t0)
		st := testCookieStore(t, c, Options{})
		b := browser{}
		s := testSession(t, t0, 1)
		// Used every 50 minutes: never idle, still ends 12h after login.
		for c.Now().Before(t0.Add(12 * time.Hour)) {
			s.LastSeen = c.Now()
			saveTo(t, st, b, s)
			c.Advance(50 * time.Minute)
			if _, err := st.Load(t.Context(), b.cookies()); err != nil && !c.Now().After(t0.Add(12*time.Hour)) {
				t.Fatalf("at %v: %v", c.Now().Sub(t0), err)
			}
		}
		_, err := st.Load(t.Context(), b.cookies())
		if !errors.Is(err, ErrExpired) || !strings.Contains(err.Error(), "absolute") {
			t.Fatalf("past the absolute timeout: err = %v", err)
		}
		if _, err := st.Save(t.Context(), s, nil); !errors.Is(err, ErrExpired) {
			t.Fatalf("Save of an expired session: err = %v", err)
		}
	})
}

// bigSession has a 10 KB ID token, as providers that put many groups in it produce.
func bigSession(t *testing.T, now time.Time, seed byte) *Session {
	s := testSession(t, now, seed)
	var tok strings.Builder
	for i := 0; tok.Len() < 10*1024; i++ {
		tok.WriteString("eyJncm91cHMiOlsi") // varied enough that it does not look like padding
		tok.WriteByte("abcdefghijklmnopqrstuvwxyz"[i%26])
	}
	s.IDToken = tok.String()
	return s
}

func TestCookieStoreChunking(t *testing.T) {
	c := newClock(t0)
	st := testCookieStore(t, c, Options{Secure: true})
	s := bigSession(t, t0, 1)
	b := browser{}
	set := saveTo(t, st, b, s)
	if len(set) < 3 {
		t.Fatalf("a 10 KB token fits in %d cookies?", len(set))
	}
	for i, ck := range set {
		if want := chunkName("__Host-kfgate-session", i); ck.Name != want {
			t.Errorf("cookie %d is %s, want %s", i, ck.Name, want)
		}
		checkAttributes(t, ck, true)
		if ck.MaxAge != set[0].MaxAge || !ck.Expires.Equal(set[0].Expires) {
			t.Errorf("chunk %d lifetime differs from the first", i)
		}
	}
	got, err := st.Load(t.Context(), b.cookies())
	if err != nil {
		t.Fatal(err)
	}
	sameSession(t, got, s)

	// Saving the same large session again sets the same chunks and clears nothing.
	again := saveTo(t, st, b, s)
	if len(again) != len(set) {
		t.Fatalf("re-save: %d cookies, want %d", len(again), len(set))
	}

	// A smaller session afterwards: the chunks it no longer needs are expired.
	small := testSession(t, t0, 2)
	set2, err := st.Save(t.Context(), small, b.cookies())
	if err != nil {
		t.Fatal(err)
	}
	if len(set2) != len(set) {
		t.Fatalf("small save after a large one: %d cookies, want 1 set + %d cleared", len(set2), len(set)-1)
	}
	if set2[0].MaxAge <= 0 {
		t.Fatal("first cookie not set")
	}
	for i, ck := range set2[1:] {
		if ck.Name != chunkName("__Host-kfgate-session", i+1) || ck.MaxAge != -1 {
			t.Errorf("cookie %d: %s MaxAge %d, want chunk %d cleared", i+1, ck.Name, ck.MaxAge, i+1)
		}
		checkAttributes(t, ck, true)
	}
	b.apply(set2)
	if len(b) != 1 {
		t.Fatalf("browser keeps %d cookies", len(b))
	}
	got, err = st.Load(t.Context(), b.cookies())
	if err != nil {
		t.Fatal(err)
	}
	sameSession(t, got, small)
}

func TestCookieStoreTooLarge(t *testing.T) {
	st := testCookieStore(t, newClock(t0), Options{})
	s := testSession(t, t0, 1)
	s.IDToken = strings.Repeat("x", 30*1024)
	_, err := st.Save(t.Context(), s, nil)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "8 cookies") {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	mustNotLeak(t, err, s.IDToken[:100])
}

// chunkedCookies returns the request cookies of a saved 10 KB session, in chunk order.
func chunkedCookies(t *testing.T, st *CookieStore, seed byte) []*http.Cookie {
	t.Helper()
	set, err := st.Save(t.Context(), bigSession(t, t0, seed), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*http.Cookie, len(set))
	for i, c := range set {
		out[i] = &http.Cookie{Name: c.Name, Value: c.Value}
	}
	return out
}

func TestCookieStoreChunksMustFit(t *testing.T) {
	st := testCookieStore(t, newClock(t0), Options{Secure: true})
	cks := chunkedCookies(t, st, 1)
	other := chunkedCookies(t, st, 2)
	n := len(cks)
	if n < 3 {
		t.Fatalf("need at least 3 chunks, have %d", n)
	}
	clone := func() []*http.Cookie {
		out := make([]*http.Cookie, n)
		for i, c := range cks {
			cc := *c
			out[i] = &cc
		}
		return out
	}
	cases := map[string]func() []*http.Cookie{
		"missing middle chunk": func() []*http.Cookie { c := clone(); return append(c[:1], c[2:]...) },
		"missing last chunk":   func() []*http.Cookie { return clone()[:n-1] },
		"missing first chunk":  func() []*http.Cookie { return clone()[1:] },
		"extra chunk": func() []*http.Cookie {
			return append(clone(), &http.Cookie{Name: chunkName(cks[0].Name, n), Value: "AAAA"})
		},
		"values reordered": func() []*http.Cookie {
			c := clone()
			c[1].Value, c[2].Value = c[2].Value, c[1].Value
			return c
		},
		"chunk from another session": func() []*http.Cookie { c := clone(); c[1].Value = other[1].Value; return c },
		"chunk truncated":            func() []*http.Cookie { c := clone(); c[1].Value = c[1].Value[:100]; return c },
		"count too small":            func() []*http.Cookie { c := clone(); c[0].Value = "1" + c[0].Value[1:]; return c },
		"count too large":            func() []*http.Cookie { c := clone(); c[0].Value = "9" + c[0].Value[1:]; return c },
		"no count":                   func() []*http.Cookie { c := clone(); c[0].Value = c[0].Value[2:]; return c },
		"duplicate chunk":            func() []*http.Cookie { c := clone(); return append(c, c[1]) },
		"duplicate first": func() []*http.Cookie {
			c := clone()
			return append(c, &http.Cookie{Name: c[0].Name, Value: "1.AAAA"})
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := st.Load(t.Context(), mk())
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			mustNotLeak(t, err, cks[0].Value[2:40], cks[1].Value[:40], "ID-TOKEN", "REFRESH-TOKEN-SECRET")
		})
	}
	if _, err := st.Load(t.Context(), clone()); err != nil {
		t.Fatalf("the untouched chunks do not load: %v", err)
	}
	if _, err := st.Load(t.Context(), []*http.Cookie{cks[2], cks[0], cks[1]}); n == 3 && err != nil {
		t.Fatalf("cookie order in the header must not matter: %v", err)
	}
}

func TestCookieStoreTampered(t *testing.T) {
	st := testCookieStore(t, newClock(t0), Options{})
	b := browser{}
	saveTo(t, st, b, testSession(t, t0, 1))
	v := b["kfgate-session"]
	for i := 2; i < len(v); i++ {
		c := byte('A')
		if v[i] == 'A' {
			c = 'B'
		}
		tampered := v[:i] + string(c) + v[i+1:]
		_, err := st.Load(t.Context(), []*http.Cookie{{Name: "kfgate-session", Value: tampered}})
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("position %d changed: err = %v, want ErrInvalid", i, err)
		}
	}
}

// A value sealed for one cookie name does not load under another, even with the same keys.
func TestCookieStoreWrongPurpose(t *testing.T) {
	c := newClock(t0)
	keys := testKeyring(t)
	a, _ := NewCookieStore(keys, Options{CookieName: "app-a", Now: c.Now})
	bst, _ := NewCookieStore(keys, Options{CookieName: "app-b", Now: c.Now})
	set, err := a.Save(t.Context(), testSession(t, t0, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = bst.Load(t.Context(), []*http.Cookie{{Name: "app-b", Value: set[0].Value}})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	// Nor as a Redis value.
	if _, err := keys.Open(redisPurpose, set[0].Value[2:]); !errors.Is(err, ErrInvalid) {
		t.Fatalf("cookie value opened as a Redis value: %v", err)
	}
}

func TestCookieStoreKeyRotation(t *testing.T) {
	c := newClock(t0)
	oldStore, _ := NewCookieStore(testKeyring(t, testKey(1)), Options{Now: c.Now})
	s := testSession(t, t0, 1)
	b := browser{}
	saveTo(t, oldStore, b, s)

	rotated, _ := NewCookieStore(testKeyring(t, testKey(2), testKey(1)), Options{Now: c.Now})
	got, err := rotated.Load(t.Context(), b.cookies())
	if err != nil {
		t.Fatal(err)
	}
	sameSession(t, got, s)

	dropped, _ := NewCookieStore(testKeyring(t, testKey(2)), Options{Now: c.Now})
	if _, err := dropped.Load(t.Context(), b.cookies()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("old key dropped: err = %v, want ErrInvalid", err)
	}
}

func TestCookieStoreSaveRejects(t *testing.T) {
	st := testCookieStore(t, newClock(t0), Options{})
	if _, err := st.Save(t.Context(), nil, nil); err == nil {
		t.Error("Save(nil) succeeded")
	}
	s := testSession(t, t0, 1)
	s.ID = "not-an-id"
	if _, err := st.Save(t.Context(), s, nil); err == nil {
		t.Error("Save with a malformed ID succeeded")
	}
	s = testSession(t, t0.Add(-2*time.Hour), 1)
	if _, err := st.Save(t.Context(), s, nil); !errors.Is(err, ErrExpired) {
		t.Errorf("Save of an idle-expired session: err = %v", err)
	}
}

func TestCookieStoreDelete(t *testing.T) {
	st := testCookieStore(t, newClock(t0), Options{Secure: true})
	cks := chunkedCookies(t, st, 1)
	req := append([]*http.Cookie{{Name: "unrelated", Value: "keep"}}, cks...)
	cleared, err := st.Delete(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(cleared) != len(cks) {
		t.Fatalf("%d cookies cleared, want %d", len(cleared), len(cks))
	}
	for i, c := range cleared {
		if c.Name != cks[i].Name || c.MaxAge != -1 {
			t.Errorf("cleared %s MaxAge %d", c.Name, c.MaxAge)
		}
		checkAttributes(t, c, true)
	}
	// A stray chunk without the first cookie is cleared as well.
	cleared, _ = st.Delete(t.Context(), []*http.Cookie{{Name: "__Host-kfgate-session-3", Value: "x"}})
	if len(cleared) != 1 || cleared[0].Name != "__Host-kfgate-session-3" {
		t.Fatalf("stray chunk: %v", cleared)
	}
	if cleared, _ := st.Delete(t.Context(), nil); len(cleared) != 0 {
		t.Fatalf("no cookies: %v", cleared)
	}
}

// The longest allowed cookie name, Secure, full chunks: every Set-Cookie still fits in 4096 bytes.
func TestCookieStoreLongestNameFits(t *testing.T) {
	st := testCookieStore(t, newClock(t0), Options{Secure: true, CookieName: strings.Repeat("n", maxCookieNameLen)})
	s := bigSession(t, t0, 1)
	s.IDToken += strings.Repeat("y", 8*1024) // about 18 KB, 24 KB sealed: seven chunks
	set, err := st.Save(t.Context(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(set) < 6 {
		t.Fatalf("%d chunks", len(set))
	}
	for _, c := range set {
		if n := len("Set-Cookie: ") + len(c.String()); n > 4096 {
			t.Errorf("header for %s is %d bytes", c.Name, n)
		}
	}
	b := browser{}
	b.apply(set)
	got, err := st.Load(t.Context(), b.cookies())
	if err != nil {
		t.Fatal(err)
	}
	sameSession(t, got, s)
}

// Loads are memoised by the sealed value; each caller gets its own copy, and a value that differs in
// any byte is opened (and refused) afresh.
func TestCookieStoreMemo(t *testing.T) {
	c := newClock(t0)
	st := testCookieStore(t, c, Options{})
	b := browser{}
	saveTo(t, st, b, testSession(t, t0, 1))
	first, err := st.Load(t.Context(), b.cookies())
	if err != nil {
		t.Fatal(err)
	}
	first.LastSeen = t0.Add(-time.Hour)
	first.Groups = nil
	again, err := st.Load(t.Context(), b.cookies())
	if err != nil || !again.LastSeen.Equal(t0) {
		t.Fatalf("a caller's change reached the memo: %v %v", again.LastSeen, err)
	}
	if st.opened.Len() != 1 {
		t.Fatalf("%d memo entries, want 1", st.opened.Len())
	}
	cs := b.cookies()
	v := []byte(cs[0].Value)
	v[len(v)-2] ^= 1
	cs[0].Value = string(v)
	if _, err := st.Load(t.Context(), cs); !errors.Is(err, ErrInvalid) {
		t.Fatalf("tampered after a memoised load: %v, want ErrInvalid", err)
	}
}
