package server

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

// TestContentHasherIsTheLengthPrefixedStream: buffering changes nothing of the hash, for strings short
// and long, across the buffer's edge, as bytes or strings.
func TestContentHasherIsTheLengthPrefixedStream(t *testing.T) {
	parts := []string{"", "a", strings.Repeat("n", hashBuffer/2+1), "b", strings.Repeat("x", hashBuffer-3), "c"}
	for range 3000 {
		parts = append(parts, "name-with-some-length", "0123456789abcdef")
	}
	want := sha256.New()
	h := newContentHasher()
	for i, p := range parts {
		want.Write(binary.AppendUvarint(nil, uint64(len(p))))
		want.Write([]byte(p))
		if i%2 == 0 {
			h.addString(p)
		} else {
			h.add([]byte(p))
		}
	}
	if got := h.sum(); got != hex.EncodeToString(want.Sum(nil)) {
		t.Errorf("buffered hash %s, want %s", got, hex.EncodeToString(want.Sum(nil)))
	}
}
