package session

import (
	"context"
	"crypto/sha256"
	"net/http"
	"time"

	"github.com/kfgate/kfgate/authn/internal/ttlcache"
)

// CookieStore keeps the whole session in the browser: the session JSON is sealed with the cookie
// name as purpose and split into at most eight cookies. Nothing is stored server-side, so a
// session cannot be revoked before its timeouts; use RedisStore where that matters.
type CookieStore struct {
	base
	locks     keyedLocks
	chunkSize int // chunkValueSize but in tests
	// opened remembers recently opened sessions by the SHA-256 of their sealed value, so that a busy
	// browser's requests do not each decrypt and decode its cookie (an AES-GCM open and the JSON of a
	// ~1 KB ID token: about 15% of a Check). A cookie that differs in any byte is another key, and the
	// timeouts are checked on every hit.
	opened *ttlcache.Cache[[sha256.Size]byte, Session]
}

const (
	openedSize = 10000
	openedTTL  = time.Minute
)

var _ Store = (*CookieStore)(nil)

// NewCookieStore returns a CookieStore sealing with keys.
func NewCookieStore(keys *Keyring, o Options) (*CookieStore, error) {
	b, err := newBase(keys, o)
	if err != nil {
		return nil, err
	}
	return &CookieStore{base: b, chunkSize: chunkValueSize, opened: ttlcache.New[[sha256.Size]byte, Session](openedSize)}, nil
}

// Load implements Store.Load.
func (c *CookieStore) Load(_ context.Context, cookies []*http.Cookie) (*Session, error) {
	chunks, err := ownedCookies(c.name, cookies)
	if err != nil {
		return nil, err
	}
	if len(chunks) == 0 {
		return nil, ErrNoSession
	}
	sealed, err := joinChunks(chunks)
	if err != nil {
		return nil, err
	}
	now := c.o.Now()
	key := sha256.Sum256([]byte(sealed))
	s, hit := c.opened.Get(key, now)
	if !hit {
		opened, err := openSession(c.keys, c.name, sealed)
		if err != nil {
			return nil, err
		}
		s = *opened
		c.opened.Put(key, s, now.Add(openedTTL))
	}
	if err := c.o.checkExpiry(&s, now); err != nil {
		return nil, err
	}
	return &s, nil // a copy: callers change LastSeen
}

// Save implements Store.Save.
func (c *CookieStore) Save(_ context.Context, s *Session, reqCookies []*http.Cookie) ([]*http.Cookie, error) {
	now := c.o.Now()
	if err := c.o.checkSave(s, now); err != nil {
		return nil, err
	}
	sealed, err := sealSession(c.keys, c.name, s)
	if err != nil {
		return nil, err
	}
	values, err := splitChunks(sealed, c.chunkSize)
	if err != nil {
		return nil, err
	}
	out := make([]*http.Cookie, 0, len(values))
	for i, v := range values {
		ck, err := c.o.setCookie(chunkName(c.name, i), v, s, now)
		if err != nil {
			return nil, err
		}
		out = append(out, ck)
	}
	return append(out, c.o.clearChunks(c.name, reqCookies, len(values))...), nil
}

// Delete implements Store.Delete. The sealed cookie stays valid until its timeouts for anyone
// who copied it; the browser forgets it.
func (c *CookieStore) Delete(_ context.Context, cookies []*http.Cookie) ([]*http.Cookie, error) {
	return c.deleteCookies(cookies), nil
}

// Lock implements Store.Lock with an in-process lock per ID: it serialises refreshes within this
// process only, as the session lives in the browser and no shared store exists.
func (c *CookieStore) Lock(ctx context.Context, id string, ttl time.Duration) (func(), error) {
	return c.locks.lock(ctx, id, ttl)
}
