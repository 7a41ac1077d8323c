package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Sealed value layout, before base64url: version (1 byte) | key id (4) | nonce (12) | GCM
// ciphertext and tag. The version lets a later format coexist during a rolling upgrade; the key
// id lets Open pick the key directly instead of trying every key in the ring.
const (
	// KeySize is the length of every Keyring key: AES-256.
	KeySize = 32

	formatVersion = 1
	keyIDSize     = 4
	nonceSize     = 12
	tagSize       = 16
	headerSize    = 1 + keyIDSize + nonceSize
	minSealedSize = headerSize + tagSize

	// maxSealedLen bounds what Open decodes, so a hostile value cannot make it allocate much. It is
	// far above anything kfgate seals (a cookie session is capped at a few tens of kilobytes).
	maxSealedLen = 1 << 20
)

// keyIDContext separates key ids from any other use of a hash of the key, so the id published in
// every sealed value is not a value some other system might also derive from the key.
const keyIDContext = "kfgate session key id v1\x00"

// Keyring seals and opens values with AES-256-GCM. The first key seals; every key opens
// (rotation). A Keyring is safe for concurrent use when its random source is.
type Keyring struct {
	sealer ringKey
	// byID holds every key under its id. Ids are 32 bits, so two distinct keys could collide:
	// Open then tries each key with that id.
	byID map[[keyIDSize]byte][]cipher.AEAD
	rand io.Reader
}

type ringKey struct {
	id   [keyIDSize]byte
	aead cipher.AEAD
}

// NewKeyring returns a Keyring for keys: each exactly KeySize bytes, at least one, no two equal.
// keys[0] seals. rand supplies GCM nonces; nil means crypto/rand. The keys are copied.
func NewKeyring(keys [][]byte, rand io.Reader) (*Keyring, error) {
	labels := make([]string, len(keys))
	for i := range keys {
		labels[i] = "key " + strconv.Itoa(i+1)
	}
	return newKeyring(keys, labels, rand)
}

// newKeyring is NewKeyring with a label per key for errors ("key 2", `key file "/etc/k"`), so a
// configuration mistake is reported in the terms the operator used.
func newKeyring(keys [][]byte, labels []string, random io.Reader) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("session: keyring needs at least one key")
	}
	if random == nil {
		random = rand.Reader
	} else {
		random = lockReader(random)
	}
	k := &Keyring{byID: make(map[[keyIDSize]byte][]cipher.AEAD, len(keys)), rand: random}
	for i, key := range keys {
		if len(key) != KeySize {
			return nil, fmt.Errorf("session: %s is %d bytes, want %d", labels[i], len(key), KeySize)
		}
		for j := range i {
			if subtle.ConstantTimeCompare(key, keys[j]) == 1 {
				return nil, fmt.Errorf("session: %s is the same key as %s", labels[i], labels[j])
			}
		}
		block, err := aes.NewCipher(append([]byte(nil), key...))
		if err != nil {
			return nil, fmt.Errorf("session: %s: %w", labels[i], err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("session: %s: %w", labels[i], err)
		}
		id := keyID(key)
		k.byID[id] = append(k.byID[id], aead)
		if i == 0 {
			k.sealer = ringKey{id: id, aead: aead}
		}
	}
	return k, nil
}

func keyID(key []byte) [keyIDSize]byte {
	h := sha256.New()
	h.Write([]byte(keyIDContext))
	h.Write(key)
	var id [keyIDSize]byte
	copy(id[:], h.Sum(nil))
	return id
}

// additionalData binds the header and the purpose into the GCM tag: a value sealed for one
// purpose (one cookie name) does not open as another, and the header cannot be edited. The header
// has a fixed size, so header and purpose cannot be re-split into a different pair.
func additionalData(header []byte, purpose string) []byte {
	ad := make([]byte, 0, 1+keyIDSize+len(purpose))
	ad = append(ad, header[:1+keyIDSize]...)
	return append(ad, purpose...)
}

// Seal binds the ciphertext to purpose (e.g. the cookie name) through the GCM additional data,
// so a value sealed for one cookie cannot be replayed as another. The output is base64url without
// padding, safe as a cookie value, and carries a format version and the id of the key that sealed
// it. Nonces are 96 random bits: the 2^32 values per key that random GCM nonces allow are far
// beyond what kfgate seals (a few values per login and refresh), and rotation starts a new count.
func (k *Keyring) Seal(purpose string, plaintext []byte) (string, error) {
	buf := make([]byte, headerSize, headerSize+len(plaintext)+tagSize)
	buf[0] = formatVersion
	copy(buf[1:], k.sealer.id[:])
	if _, err := io.ReadFull(k.rand, buf[1+keyIDSize:headerSize]); err != nil {
		return "", fmt.Errorf("session: reading nonce: %w", err)
	}
	nonce := buf[1+keyIDSize : headerSize]
	buf = k.sealer.aead.Seal(buf, nonce, plaintext, additionalData(buf, purpose))
	return base64.RawURLEncoding.EncodeToString(buf), nil
}

// Open returns the plaintext of a value Seal produced for purpose with any key of the ring. Any
// malformed, tampered, unknown-key or wrong-purpose input yields ErrInvalid wrapped with the
// reason; Open never panics.
func (k *Keyring) Open(purpose, sealed string) ([]byte, error) {
	if len(sealed) > maxSealedLen {
		return nil, fmt.Errorf("%w: sealed value is %d bytes, more than %d", ErrInvalid, len(sealed), maxSealedLen)
	}
	// The decoder skips CR and LF even in strict mode; rejecting every byte outside the alphabet
	// first makes the encoding canonical, so exactly one string opens to a given value.
	if i := indexNotBase64URL(sealed); i >= 0 {
		return nil, fmt.Errorf("%w: sealed value has a byte outside base64url at offset %d", ErrInvalid, i)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: sealed value is not canonical unpadded base64url", ErrInvalid)
	}
	if len(raw) < minSealedSize {
		return nil, fmt.Errorf("%w: sealed value is %d bytes, shorter than the %d of an empty one", ErrInvalid, len(raw), minSealedSize)
	}
	if raw[0] != formatVersion {
		return nil, fmt.Errorf("%w: unknown format version %d", ErrInvalid, raw[0])
	}
	var id [keyIDSize]byte
	copy(id[:], raw[1:1+keyIDSize])
	aeads := k.byID[id]
	if len(aeads) == 0 {
		return nil, fmt.Errorf("%w: sealed with a key this keyring does not hold (key id %x)", ErrInvalid, id)
	}
	nonce, ciphertext := raw[1+keyIDSize:headerSize], raw[headerSize:]
	ad := additionalData(raw, purpose)
	for _, aead := range aeads {
		if plain, err := aead.Open(nil, nonce, ciphertext, ad); err == nil {
			return plain, nil
		}
	}
	return nil, fmt.Errorf("%w: authentication failed (tampered, or sealed for another purpose)", ErrInvalid)
}

// indexNotBase64URL returns the offset of the first byte of s outside the unpadded base64url
// alphabet, or -1.
func indexNotBase64URL(s string) int {
	for i := 0; i < len(s); i++ {
		if !isBase64URL(s[i]) {
			return i
		}
	}
	return -1
}

func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
