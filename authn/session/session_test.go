package session

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestNewID(t *testing.T) {
	id, err := NewID(seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(id) != 43 || !validID(id) {
		t.Fatalf("NewID = %q: want 43 chars of base64url", id)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(id)
	if len(raw) != 32 {
		t.Fatalf("ID carries %d bytes, want 32", len(raw))
	}
	again, _ := NewID(seeded(1))
	if again != id {
		t.Fatal("NewID does not use the injected random source")
	}
	other, _ := NewID(nil)
	if other == id || !validID(other) {
		t.Fatalf("NewID(nil) = %q", other)
	}
	if _, err := NewID(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Fatal("NewID succeeded on 31 random bytes")
	}
}

func TestValidID(t *testing.T) {
	id, _ := NewID(seeded(1))
	for _, bad := range []string{
		"", id[:42], id + "A", id[:42] + "=", id[:10] + "+" + id[11:], id[:10] + "\n" + id[11:],
		strings.Repeat("A", 42) + "B", // non-canonical: the last character carries bits past 256
		strings.Repeat("é", 21) + "A",
	} {
		if validID(bad) {
			t.Errorf("validID(%q) = true", bad)
		}
	}
	if !validID(strings.Repeat("A", 42) + "E") {
		t.Error("validID rejects a canonical ID")
	}
}

func TestIDHash(t *testing.T) {
	id, _ := NewID(seeded(1))
	h := idHash(id)
	if len(h) != 64 || strings.Contains(h, id) || h != idHash(id) {
		t.Fatalf("idHash = %q", h)
	}
	// SHA-256 of the empty string, to pin the hash function.
	if idHash("") != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatal("idHash is not hex(SHA-256)")
	}
}
