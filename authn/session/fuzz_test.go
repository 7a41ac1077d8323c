package session

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// FuzzKeyringOpen feeds Open arbitrary purposes and values, seeded with valid, truncated and
// bit-flipped ones. Open must never panic, must fail only with ErrInvalid, and must succeed only
// for the exact value Seal produced: anything else opening would be a forgery.
func FuzzKeyringOpen(f *testing.F) {
	k, err := NewKeyring([][]byte{testKey(1), testKey(2)}, seeded(1))
	if err != nil {
		f.Fatal(err)
	}
	const purpose = "__Host-kfgate-session"
	plain := []byte(`{"id":"x","user":"alice"}`)
	valid, _ := k.Seal(purpose, plain)
	oldRing, _ := NewKeyring([][]byte{testKey(2)}, seeded(2))
	validOld, _ := oldRing.Seal(purpose, plain)
	raw, _ := base64.RawURLEncoding.DecodeString(valid)

	f.Add(purpose, valid)
	f.Add(purpose, validOld)
	f.Add("redis-session", valid)
	f.Add(purpose, valid[:len(valid)-1])
	f.Add(purpose, valid[:headerSize])
	f.Add(purpose, "")
	f.Add(purpose, valid+"\n")
	for _, i := range []int{0, 1, 5, headerSize, len(raw) - 1} {
		flipped := append([]byte(nil), raw...)
		flipped[i] ^= 0x01
		f.Add(purpose, base64.RawURLEncoding.EncodeToString(flipped))
	}
	f.Fuzz(func(t *testing.T, p, sealed string) {
		got, err := k.Open(p, sealed)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if p != purpose || (sealed != valid && sealed != validOld) || !bytes.Equal(got, plain) {
			t.Fatalf("Open(%q, %q) succeeded on a value Seal never produced", p, sealed)
		}
	})
}

// FuzzCookieStoreLoad feeds Load arbitrary cookie sets, written as "name=value" pairs separated
// by "; " (as in a Cookie header, but without net/http's parsing, so any byte reaches Load),
// seeded with the chunks of a real session and broken variants of them. Load must never panic,
// must return only the documented errors, and must return a session only for the real one.
func FuzzCookieStoreLoad(f *testing.F) {
	c := newClock(t0)
	st := testCookieStore(f, c, Options{Secure: true})
	// Small chunks, so a session of a few hundred bytes has several and the fuzzer mutates
	// (and minimises) short inputs; the chunk logic does not depend on the size.
	st.chunkSize = 120
	id, _ := NewID(seeded(1))
	want := &Session{ID: id, User: "alice", Created: t0, LastSeen: t0, IDToken: "eyJhbGciOi.e30.sig"}
	set, err := st.Save(f.Context(), want, nil)
	if err != nil {
		f.Fatal(err)
	}
	if len(set) < 3 {
		f.Fatalf("seed session has %d chunks, want several", len(set))
	}
	pairs := make([]string, len(set))
	for i, ck := range set {
		pairs[i] = ck.Name + "=" + ck.Value
	}
	f.Add(strings.Join(pairs, "; "))
	f.Add(strings.Join(pairs[1:], "; "))
	f.Add(strings.Join(pairs[:len(pairs)-1], "; "))
	f.Add(pairs[1] + "; " + pairs[0])
	f.Add(strings.Join(pairs, "; ") + "; __Host-kfgate-session-7=AAAA")
	f.Add(strings.Join(pairs, "; ") + "; " + pairs[0])
	f.Add("__Host-kfgate-session=" + set[1].Value + "; __Host-kfgate-session-1=" + set[0].Value)
	f.Add("__Host-kfgate-session=2." + set[0].Value[2:100] + "; __Host-kfgate-session-1=")
	f.Add("__Host-kfgate-session=")
	f.Add("__Host-kfgate-session=1.")
	f.Add("__Host-kfgate-session=8.x")
	f.Add("other=1; __Host-kfgate-session-01=x; __Host-kfgate-session-9=y")
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		var cookies []*http.Cookie
		for pair := range strings.SplitSeq(header, "; ") {
			name, value, _ := strings.Cut(pair, "=")
			cookies = append(cookies, &http.Cookie{Name: name, Value: value})
		}
		got, err := st.Load(t.Context(), cookies)
		if err != nil {
			if !errors.Is(err, ErrNoSession) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrExpired) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if got.ID != want.ID || got.IDToken != want.IDToken || !got.Created.Equal(want.Created) {
			t.Fatalf("Load returned a session that was never saved: %+v", got)
		}
		if _, err := st.Save(t.Context(), got, cookies); err != nil {
			t.Fatalf("a loaded session does not save: %v", err)
		}
	})
}
