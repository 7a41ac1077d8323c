package session

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestKeyringRoundTrip(t *testing.T) {
	k := testKeyring(t)
	for _, plain := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("session"), 2000)} {
		sealed, err := k.Seal("kfgate-session", plain)
		if err != nil {
			t.Fatal(err)
		}
		if i := indexNotBase64URL(sealed); i >= 0 {
			t.Fatalf("sealed value has %q at %d: not a cookie-safe base64url", sealed[i], i)
		}
		got, err := k.Open("kfgate-session", sealed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("Open = %q, want %q", got, plain)
		}
	}
}

func TestKeyringFormat(t *testing.T) {
	k := testKeyring(t)
	sealed, err := k.Seal("p", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		t.Fatal(err)
	}
	if raw[0] != formatVersion {
		t.Errorf("version byte %d, want %d", raw[0], formatVersion)
	}
	id := keyID(testKey(1))
	if !bytes.Equal(raw[1:5], id[:]) {
		t.Errorf("key id %x, want %x", raw[1:5], id)
	}
	if want := headerSize + len("hello") + tagSize; len(raw) != want {
		t.Errorf("sealed is %d bytes, want %d", len(raw), want)
	}
}

func TestKeyringInjectedRandIsDeterministic(t *testing.T) {
	a, _ := NewKeyring([][]byte{testKey(1)}, seeded(3))
	b, _ := NewKeyring([][]byte{testKey(1)}, seeded(3))
	sa, _ := a.Seal("p", []byte("v"))
	sb, _ := b.Seal("p", []byte("v"))
	if sa != sb {
		t.Fatal("same seed sealed differently: the random source is not the injected one")
	}
	sa2, _ := a.Seal("p", []byte("v"))
	if sa2 == sa {
		t.Fatal("two seals reused a nonce")
	}
}

func TestKeyringRandFailure(t *testing.T) {
	k, err := NewKeyring([][]byte{testKey(1)}, bytes.NewReader(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Seal("p", []byte("v")); err == nil {
		t.Fatal("Seal succeeded without randomness")
	}
}

// Every bit of the sealed bytes is covered by the tag (or selects the version or key): flipping
// any one must fail, with ErrInvalid.
func TestKeyringTamperedEveryBit(t *testing.T) {
	k := testKeyring(t)
	sealed, err := k.Seal("kfgate-session", []byte(`{"user":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(sealed)
	for i := range raw {
		for bit := range 8 {
			tampered := append([]byte(nil), raw...)
			tampered[i] ^= 1 << bit
			_, err := k.Open("kfgate-session", base64.RawURLEncoding.EncodeToString(tampered))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("byte %d bit %d flipped: Open err = %v, want ErrInvalid", i, bit, err)
			}
		}
	}
	// The same at the text level: any other character at any position.
	for i := range sealed {
		for _, c := range "AQgw_-" {
			if byte(c) == sealed[i] {
				continue
			}
			tampered := sealed[:i] + string(c) + sealed[i+1:]
			if _, err := k.Open("kfgate-session", tampered); !errors.Is(err, ErrInvalid) {
				t.Fatalf("char %d set to %q: Open err = %v, want ErrInvalid", i, c, err)
			}
		}
	}
}

func TestKeyringWrongPurpose(t *testing.T) {
	k := testKeyring(t)
	sealed, _ := k.Seal("__Host-kfgate-session", []byte("v"))
	for _, purpose := range []string{"", "__Host-kfgate-login", "__Host-kfgate-session ", "redis-session"} {
		if _, err := k.Open(purpose, sealed); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open for purpose %q: err = %v, want ErrInvalid", purpose, err)
		}
	}
}

func TestKeyringRotation(t *testing.T) {
	oldKey, newKey := testKey(1), testKey(2)
	sealedOld, _ := testKeyring(t, oldKey).Seal("p", []byte("old"))

	rotated := testKeyring(t, newKey, oldKey)
	got, err := rotated.Open("p", sealedOld)
	if err != nil || string(got) != "old" {
		t.Fatalf("rotated ring opening an old value: %q, %v", got, err)
	}
	sealedNew, _ := rotated.Seal("p", []byte("new"))
	raw, _ := base64.RawURLEncoding.DecodeString(sealedNew)
	if id := keyID(newKey); !bytes.Equal(raw[1:5], id[:]) {
		t.Error("rotated ring does not seal with its first key")
	}
	if _, err := testKeyring(t, oldKey).Open("p", sealedNew); !errors.Is(err, ErrInvalid) {
		t.Errorf("old ring opening a new-key value: err = %v, want ErrInvalid", err)
	}

	_, err = testKeyring(t, newKey).Open("p", sealedOld)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "does not hold") {
		t.Fatalf("ring without the old key: err = %v, want ErrInvalid naming the unknown key", err)
	}
}

func TestKeyringOpenMalformed(t *testing.T) {
	k := testKeyring(t)
	valid, _ := k.Seal("p", []byte("v"))
	raw, _ := base64.RawURLEncoding.DecodeString(valid)
	reversion := append([]byte{2}, raw[1:]...)
	cases := map[string]string{
		"empty":          "",
		"one char":       "A",
		"truncated":      valid[:len(valid)-1],
		"too short":      base64.RawURLEncoding.EncodeToString(raw[:minSealedSize-1]),
		"no tag":         base64.RawURLEncoding.EncodeToString(raw[:headerSize]),
		"padded":         base64.URLEncoding.EncodeToString(raw),
		"std alphabet":   strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "+/",
		"newline inside": valid[:10] + "\n" + valid[10:],
		"CR at end":      valid + "\r",
		"space":          " " + valid,
		"version 2":      base64.RawURLEncoding.EncodeToString(reversion),
		"huge":           strings.Repeat("A", maxSealedLen+1),
		"appended":       valid + "AAAA",
		"non-ascii":      valid[:5] + "é" + valid[5:],
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := k.Open("p", in); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestNewKeyringErrors(t *testing.T) {
	cases := map[string]struct {
		keys [][]byte
		want string
	}{
		"none":      {nil, "at least one key"},
		"short":     {[][]byte{testKey(1), make([]byte, 16)}, "key 2 is 16 bytes, want 32"},
		"long":      {[][]byte{make([]byte, 33)}, "key 1 is 33 bytes"},
		"duplicate": {[][]byte{testKey(1), testKey(2), testKey(1)}, "key 3 is the same key as key 1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := NewKeyring(tc.keys, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestNewKeyringCopiesKeys(t *testing.T) {
	key := testKey(1)
	k := testKeyring(t, key)
	sealed, _ := k.Seal("p", []byte("v"))
	clear(key)
	if _, err := k.Open("p", sealed); err != nil {
		t.Fatalf("keyring changed with the caller's slice: %v", err)
	}
}

func TestKeyringErrorsCarryNoSecrets(t *testing.T) {
	key := testKey(1)
	k := testKeyring(t, key)
	sealed, _ := k.Seal("p", []byte("PLAINTEXT-SECRET"))
	secrets := []string{
		base64.StdEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key),
		string(key), "PLAINTEXT-SECRET", sealed, sealed[:20],
	}
	for _, in := range []string{sealed[:len(sealed)-2], sealed + "\n", sealed[:30] + "*" + sealed[31:]} {
		_, err := k.Open("p", in)
		mustNotLeak(t, err, secrets...)
	}
	_, err := k.Open("other", sealed)
	mustNotLeak(t, err, secrets...)
}

// Key ids are 32 bits, so two keys of a ring may share one: Open then tries both.
func TestKeyringKeyIDCollision(t *testing.T) {
	id1 := keyID(testKey(1))
	other := testKeyring(t, testKey(2))
	other.sealer.id = id1 // seal with key 2 under key 1's id, as a colliding key would
	sealed, err := other.Seal("p", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	ring := testKeyring(t, testKey(1))
	if _, err := ring.Open("p", sealed); !errors.Is(err, ErrInvalid) {
		t.Fatalf("without the colliding key: err = %v", err)
	}
	ring.byID[id1] = append(ring.byID[id1], other.sealer.aead)
	got, err := ring.Open("p", sealed)
	if err != nil || string(got) != "v" {
		t.Fatalf("colliding ids: %q, %v", got, err)
	}
}
