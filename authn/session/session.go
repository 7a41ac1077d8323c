package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Session is what kfgate keeps about one logged-in browser.
type Session struct {
	// ID is 256 random bits, base64url (NewID): the Redis key material and the lock key.
	ID string `json:"id"`
	// User is the identity value (claim already mapped, without prefix).
	User string `json:"user"`
	// Groups are the user's groups (claim already mapped, without prefix).
	Groups []string `json:"groups,omitempty"`
	// Subject is the ID token's sub claim.
	Subject string `json:"sub"`
	// Issuer is the ID token's iss claim.
	Issuer string `json:"iss"`
	// IDToken is the raw ID token, kept for RP-initiated logout (id_token_hint) and refresh.
	IDToken string `json:"idt,omitempty"`
	// RefreshToken is the OAuth 2.0 refresh token, when the provider issued one.
	RefreshToken string `json:"rt,omitempty"`
	// Expiry is when the ID/access token expires: the refresh deadline.
	Expiry time.Time `json:"exp"`
	// Created is the login time: the absolute timeout runs from here.
	Created time.Time `json:"created"`
	// LastSeen is the last time the session was used and saved: the idle timeout runs from here.
	LastSeen time.Time `json:"seen"`
}

// idBytes is the entropy of a session ID: 256 bits, so IDs can be neither guessed nor collide.
const idBytes = 32

// idLen is the length of a session ID in unpadded base64url.
var idLen = base64.RawURLEncoding.EncodedLen(idBytes)

// NewID returns a new session ID: idBytes random bytes from rand in unpadded base64url. rand nil
// means crypto/rand.
func NewID(rand io.Reader) (string, error) {
	if rand == nil {
		rand = cryptoRand
	}
	var b [idBytes]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("session: reading random bytes for a session ID: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

var cryptoRand = rand.Reader

// validID reports whether id has the form NewID produces. It is checked before any use, so a
// hostile cookie value never reaches Redis or a lock map.
func validID(id string) bool {
	if len(id) != idLen || indexNotBase64URL(id) >= 0 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(id)
	return err == nil
}

// idHash names a session in server-side keys: reading Redis (or its logs) reveals no cookie
// value, since the ID cannot be recovered from its hash.
func idHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// sealSession encodes s and seals it for purpose: the only way a session leaves the process.
func sealSession(keys *Keyring, purpose string, s *Session) (string, error) {
	plain, err := json.Marshal(s) //nolint:gosec // G117: the tokens are sealed on the next line
	if err != nil {
		return "", fmt.Errorf("session: encoding session: %w", err)
	}
	defer clear(plain)
	return keys.Seal(purpose, plain)
}

// openSession opens a value sealSession made and checks it is a session. It was sealed by kfgate,
// so a failure past Open means a key shared with something else, or a bug; ErrInvalid all the same.
func openSession(keys *Keyring, purpose, sealed string) (*Session, error) {
	plain, err := keys.Open(purpose, sealed)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	var s Session
	if err := json.Unmarshal(plain, &s); err != nil {
		return nil, fmt.Errorf("%w: sealed session is not session JSON", ErrInvalid)
	}
	if !validID(s.ID) {
		return nil, fmt.Errorf("%w: sealed session has a malformed ID", ErrInvalid)
	}
	return &s, nil
}
