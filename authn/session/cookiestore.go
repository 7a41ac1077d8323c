package session

import (
	"context"
	"net/http"
	"time"
)

// CookieStore keeps the whole session in the browser: the session JSON is sealed with the cookie
// name as purpose and split into at most eight cookies. Nothing is stored server-side, so a
// session cannot be revoked before its timeouts; use RedisStore where that matters.
type CookieStore struct {
	base
	locks     keyedLocks
	chunkSize int // chunkValueSize but in tests
}

var _ Store = (*CookieStore)(nil)

// NewCookieStore returns a CookieStore sealing with keys.
func NewCookieStore(keys *Keyring, o Options) (*CookieStore, error) {
	b, err := newBase(keys, o)
	if err != nil {
		return nil, err
	}
	return &CookieStore{base: b, chunkSize: chunkValueSize}, nil
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
	s, err := openSession(c.keys, c.name, sealed)
	if err != nil {
		return nil, err
	}
	if err := c.o.checkExpiry(s, c.o.Now()); err != nil {
		return nil, err
	}
	return s, nil
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
