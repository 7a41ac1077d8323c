package session

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Store keeps sessions. CookieStore (the default) seals the whole session into the cookie(s);
// RedisStore keeps it server-side and the cookie carries only the opaque ID.
type Store interface {
	// Load returns the session the request's cookies reference. ErrNoSession when the request
	// has no session cookie at all; ErrInvalid (wrapped, precise reason) when a cookie is present
	// but malformed, tampered, sealed with an unknown key, or its chunks do not fit together;
	// ErrExpired when the absolute (Now > Created+AbsoluteTimeout) or idle (Now >
	// LastSeen+IdleTimeout) timeout has passed. RedisStore also returns ErrNotFound when the ID
	// is unknown (revoked, deleted) and ErrUnavailable when Redis cannot be asked. Callers treat
	// every error but ErrUnavailable as "no valid session", and log or count the reason.
	Load(ctx context.Context, cookies []*http.Cookie) (*Session, error)
	// Save persists s and returns the Set-Cookie cookies to send. reqCookies are the request's
	// cookies, so that chunks the new value no longer needs are expired. s is not modified. A
	// session past its timeouts is not saved (ErrExpired).
	Save(ctx context.Context, s *Session, reqCookies []*http.Cookie) ([]*http.Cookie, error)
	// Delete removes the session the cookies reference (Redis: DEL) and returns cookies that
	// clear every chunk present.
	Delete(ctx context.Context, cookies []*http.Cookie) ([]*http.Cookie, error)
	// Lock serialises refreshes of one session until unlock is called, the ttl passes, or, while
	// waiting, ctx is done (the error then wraps ctx.Err()). unlock is safe to call more than
	// once, also after the ttl passed and another caller took the lock.
	Lock(ctx context.Context, id string, ttl time.Duration) (unlock func(), err error)
	// Owns reports whether a cookie name belongs to the session (base name or any chunk), so
	// kfgate can strip its own cookies from the Cookie header sent upstream.
	Owns(cookieName string) bool
	// Touch sets s.LastSeen to now and reports true when it was old enough (a tenth of the idle
	// timeout) that the session should be saved again; false leaves s as it is. Saving on every
	// request would set a cookie (or write Redis) on every response.
	Touch(s *Session) bool
}

// base is what both stores share: options with defaults, the keyring and the cookie name.
type base struct {
	o    Options
	keys *Keyring
	name string
}

func newBase(keys *Keyring, o Options) (base, error) {
	if keys == nil {
		return base{}, errors.New("session: nil keyring")
	}
	o, err := o.withDefaults()
	if err != nil {
		return base{}, err
	}
	return base{o: o, keys: keys, name: o.cookieName()}, nil
}

// Owns reports whether cookieName is the session cookie or one of its chunks.
func (b *base) Owns(cookieName string) bool {
	_, ok := chunkIndex(b.name, cookieName)
	return ok
}

// Touch implements Store.Touch.
func (b *base) Touch(s *Session) bool {
	return b.o.touch(s, b.o.Now())
}

// CookieName is the name of the session cookie (the first chunk), "__Host-" + Options.CookieName
// when Secure.
func (b *base) CookieName() string { return b.name }

// deleteCookies clears every cookie of the session present in the request.
func (b *base) deleteCookies(cookies []*http.Cookie) []*http.Cookie {
	return b.o.clearChunks(b.name, cookies, 0)
}
