package bearer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
)

// MaxTokenSize bounds a token: real JWTs are a few KiB, and a bigger one is refused before any
// decoding work.
const MaxTokenSize = 16 << 10

// allowedAlgs are the signature algorithms accepted: asymmetric only, never "none" nor HS*, whose
// "key" could be the issuer's public key (the classic algorithm confusion).
var allowedAlgs = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "PS256"}

// peeked is what is read from a token before its signature is checked. It only picks the issuer
// whose keys must verify the token (and the key id); nothing else in it may be trusted.
type peeked struct {
	alg, kid string
	iss      string
	// exp is the unverified expiry (zero when absent); it may only shorten how long something is kept.
	exp time.Time
}

// peek checks a token's shape: three base64url parts (no padding), a JSON header with an allowed alg,
// and a JSON payload with a string iss.
func peek(raw string) (peeked, error) {
	var p peeked
	switch {
	case raw == "":
		return p, invalidf("empty token")
	case len(raw) > MaxTokenSize:
		return p, invalidf("token is %d bytes, more than %d", len(raw), MaxTokenSize)
	case strings.Count(raw, ".") != 2:
		return p, invalidf("not a compact JWT: want three dot-separated parts")
	}
	parts := strings.Split(raw, ".")
	header, err := decodePart(parts[0])
	if err != nil {
		return p, invalidf("header is not base64url: %v", err)
	}
	payload, err := decodePart(parts[1])
	if err != nil {
		return p, invalidf("payload is not base64url: %v", err)
	}
	if parts[2] == "" {
		return p, invalidf("token is not signed")
	}
	if _, err := decodePart(parts[2]); err != nil {
		return p, invalidf("signature is not base64url: %v", err)
	}
	var h struct {
		Alg any `json:"alg"`
		Kid any `json:"kid"`
	}
	if err := unmarshalObject(header, &h); err != nil {
		return p, invalidf("header: %v", err)
	}
	alg, ok := h.Alg.(string)
	if !ok {
		return p, invalidf("header has no alg")
	}
	if !slices.Contains(allowedAlgs, alg) {
		return p, invalidf("alg %q is not allowed", clip(alg))
	}
	p.alg = alg
	if h.Kid != nil {
		if p.kid, ok = h.Kid.(string); !ok {
			return p, invalidf("header kid is not a string")
		}
	}
	var c struct {
		Iss any `json:"iss"`
		Exp any `json:"exp"`
	}
	if err := unmarshalObject(payload, &c); err != nil {
		return p, invalidf("payload: %v", err)
	}
	if p.iss, ok = c.Iss.(string); !ok || p.iss == "" {
		return p, invalidf("iss claim is missing or not a string")
	}
	if exp, ok := c.Exp.(float64); ok && exp > 0 && exp < 1e11 {
		p.exp = time.Unix(int64(exp), 0)
	}
	return p, nil
}

// decodePart decodes one part of a compact JWT: unpadded base64url, as RFC 7515 requires.
func decodePart(s string) ([]byte, error) {
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// unmarshalObject decodes a JSON object, refusing anything else (arrays, strings, trailing data).
func unmarshalObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return errNotObject
	}
	return json.Unmarshal(b, v)
}

var errNotObject = errors.New("not a JSON object")
