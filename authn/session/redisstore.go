package session

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis key prefixes. The rest of a key is hex(SHA-256(ID)), never the ID itself: whoever can
// read Redis (a MONITOR, a backup, slowlog) learns no cookie value.
const (
	redisSessionPrefix = "kfgate:session:"
	redisLockPrefix    = "kfgate:lock:"
)

// redisPurpose binds values stored in Redis to that use, so one cannot be presented as a cookie.
const redisPurpose = "redis-session"

// RedisStore keeps sessions in Redis, sealed with the keyring so tokens are encrypted at rest;
// the cookie carries only the session ID. Delete revokes a session for every replica. Every
// error talking to Redis wraps ErrUnavailable (and the client's error), never ErrNotFound.
type RedisStore struct {
	base
	client redis.UniversalClient
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns a RedisStore using client, which the caller keeps and closes.
func NewRedisStore(client redis.UniversalClient, keys *Keyring, o Options) (*RedisStore, error) {
	if client == nil {
		return nil, errors.New("session: nil Redis client")
	}
	b, err := newBase(keys, o)
	if err != nil {
		return nil, err
	}
	return &RedisStore{base: b, client: client}, nil
}

func redisSessionKey(id string) string { return redisSessionPrefix + idHash(id) }
func redisLockKey(id string) string    { return redisLockPrefix + idHash(id) }

// unavailable wraps a Redis client error: the session may be fine, Redis could not say.
func unavailable(op string, err error) error {
	return fmt.Errorf("%w: redis %s: %w", ErrUnavailable, op, err)
}

// cookieID returns the session ID the request's cookie carries. Only the first cookie name is a
// session ID; chunk cookies left over from a CookieStore are ignored here and cleared by Save
// and Delete.
func (r *RedisStore) cookieID(cookies []*http.Cookie) (string, error) {
	chunks, err := ownedCookies(r.name, cookies)
	if err != nil {
		return "", err
	}
	id, ok := chunks[0]
	if !ok {
		return "", ErrNoSession
	}
	if !validID(id) {
		return "", fmt.Errorf("%w: cookie %s is not a session ID", ErrInvalid, r.name)
	}
	return id, nil
}

// Load implements Store.Load. A malformed cookie is rejected before any Redis round trip.
func (r *RedisStore) Load(ctx context.Context, cookies []*http.Cookie) (*Session, error) {
	id, err := r.cookieID(cookies)
	if err != nil {
		return nil, err
	}
	sealed, err := r.client.Get(ctx, redisSessionKey(id)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, unavailable("GET", err)
	}
	s, err := openSession(r.keys, redisPurpose, sealed)
	if err != nil {
		return nil, fmt.Errorf("%w (the value stored in Redis)", err)
	}
	// The key is a hash of the ID; checking the sealed ID too means a value copied to another
	// key by someone who can write Redis does not become that key's session.
	if subtle.ConstantTimeCompare([]byte(s.ID), []byte(id)) != 1 {
		return nil, fmt.Errorf("%w: stored session belongs to another ID", ErrInvalid)
	}
	if err := r.o.checkExpiry(s, r.o.Now()); err != nil {
		return nil, err
	}
	return s, nil
}

// Save implements Store.Save. The Redis TTL is the time until the session's next deadline,
// min(LastSeen+IdleTimeout, Created+AbsoluteTimeout) - Now; with LastSeen = Now that is
// min(IdleTimeout, absolute time left). Redis thus drops a session about when Load would refuse
// it.
func (r *RedisStore) Save(ctx context.Context, s *Session, reqCookies []*http.Cookie) ([]*http.Cookie, error) {
	now := r.o.Now()
	if err := r.o.checkSave(s, now); err != nil {
		return nil, err
	}
	ck, err := r.o.setCookie(r.name, s.ID, s, now)
	if err != nil {
		return nil, err
	}
	ttl := r.o.deadline(s).Sub(now)
	if ttl < time.Millisecond {
		// PX counts milliseconds, and 0 would be refused: nothing useful is left to store.
		return nil, fmt.Errorf("%w: less than a millisecond left", ErrExpired)
	}
	sealed, err := sealSession(r.keys, redisPurpose, s)
	if err != nil {
		return nil, err
	}
	if err := r.client.Set(ctx, redisSessionKey(s.ID), sealed, ttl).Err(); err != nil {
		return nil, unavailable("SET", err)
	}
	return append([]*http.Cookie{ck}, r.o.clearChunks(r.name, reqCookies, 1)...), nil
}

// Delete implements Store.Delete: the session is removed from Redis, so the ID stops working for
// everyone who holds it. When Redis fails the error wraps ErrUnavailable and the clearing cookies
// are returned all the same: the browser can be logged out even if the revocation must be retried.
func (r *RedisStore) Delete(ctx context.Context, cookies []*http.Cookie) ([]*http.Cookie, error) {
	cleared := r.deleteCookies(cookies)
	id, err := r.cookieID(cookies)
	if err != nil {
		// No ID, or one that cannot name a stored session: only the browser has anything to forget.
		return cleared, nil
	}
	if err := r.client.Del(ctx, redisSessionKey(id)).Err(); err != nil {
		return cleared, unavailable("DEL", err)
	}
	return cleared, nil
}
