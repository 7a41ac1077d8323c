package server

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// versionLen is how many hex characters of a SHA-256 form a version: 64 bits
// make an accidental collision (which would suppress a push) negligible
// while keeping versions readable in logs and Envoy's config dump.
const versionLen = 16

// sharedNodeKey is the single snapshot-cache key all nodes map to.
const sharedNodeKey = "kfgate"

// sharedNodeHash maps every Envoy to one cache key: kfgate serves identical
// config to every node, so one SetSnapshot reaches all of them, including
// nodes that connect later.
type sharedNodeHash struct{}

// ID implements cachev3.NodeHash.
func (sharedNodeHash) ID(*corev3.Node) string { return sharedNodeKey }

// contentHasher builds a SHA-256 over a sequence of byte strings. Each is
// length-prefixed so that boundaries are part of the hash: ("ab","c") and
// ("a","bc") must not collide. Small strings are gathered in a buffer, so that
// hashing the 10,000 names and versions of a type neither allocates nor calls
// the hash per string.
type contentHasher struct {
	h   hash.Hash
	buf []byte
}

const hashBuffer = 32 << 10

func newContentHasher() *contentHasher {
	return &contentHasher{h: sha256.New(), buf: make([]byte, 0, hashBuffer)}
}

func (c *contentHasher) add(b []byte) {
	c.prefix(len(b))
	if len(b) > hashBuffer/2 {
		c.flush()
		_, _ = c.h.Write(b) // hash.Hash.Write never returns an error
		return
	}
	c.buf = append(c.buf, b...)
}

func (c *contentHasher) addString(s string) {
	c.prefix(len(s))
	if len(s) > hashBuffer/2 {
		c.flush()
		_, _ = io.WriteString(c.h, s)
		return
	}
	c.buf = append(c.buf, s...)
}

// prefix writes a length, making room for what follows.
func (c *contentHasher) prefix(n int) {
	if len(c.buf)+binary.MaxVarintLen64+min(n, hashBuffer/2) > cap(c.buf) {
		c.flush()
	}
	c.buf = binary.AppendUvarint(c.buf, uint64(n))
}

func (c *contentHasher) flush() {
	_, _ = c.h.Write(c.buf)
	c.buf = c.buf[:0]
}

func (c *contentHasher) sum() string {
	c.flush()
	return hex.EncodeToString(c.h.Sum(nil))
}

// shortVersion truncates a hex digest to a version string.
func shortVersion(digest string) string { return digest[:versionLen] }
