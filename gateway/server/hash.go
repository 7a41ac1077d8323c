package server

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"

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
// ("a","bc") must not collide.
type contentHasher struct{ h hash.Hash }

func newContentHasher() contentHasher { return contentHasher{h: sha256.New()} }

func (c contentHasher) add(b []byte) {
	var n [binary.MaxVarintLen64]byte
	// hash.Hash.Write never returns an error.
	_, _ = c.h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
	_, _ = c.h.Write(b)
}

func (c contentHasher) addString(s string) { c.add([]byte(s)) }

func (c contentHasher) sum() string { return hex.EncodeToString(c.h.Sum(nil)) }

// shortVersion truncates a hex digest to a version string.
func shortVersion(digest string) string { return digest[:versionLen] }
