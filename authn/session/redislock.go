package session

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// unlockScript deletes the lock only if it still holds this holder's token: after the ttl passed
// and another replica took the lock, a late unlock must not release theirs.
var unlockScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0
`)

// Lock retry backoff: short, since a refresh holding the lock takes one round trip to the
// identity provider, doubling so that many waiters do not hammer Redis.
const (
	lockBackoffMin = 5 * time.Millisecond
	lockBackoffMax = 100 * time.Millisecond
	// unlockTimeout bounds the unlock round trip, which cannot use the caller's ctx: unlock
	// typically runs when the request is done. An unlock that fails leaves the lock to its ttl.
	unlockTimeout = 2 * time.Second
)

// Lock implements Store.Lock across every replica sharing the Redis: SET NX PX ttl with a random
// token, retried with a short backoff until ctx is done, and released by a compare-and-delete.
// A Redis error wraps ErrUnavailable; giving up because ctx is done wraps ctx.Err().
func (r *RedisStore) Lock(ctx context.Context, id string, ttl time.Duration) (func(), error) {
	if ttl < time.Millisecond {
		return nil, errBadTTL
	}
	var raw [16]byte
	if _, err := io.ReadFull(r.o.Rand, raw[:]); err != nil {
		return nil, fmt.Errorf("session: reading lock token: %w", err)
	}
	token := hex.EncodeToString(raw[:])
	key := redisLockKey(id)
	backoff := lockBackoffMin
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("session: lock not taken: %w", err)
		}
		ok, err := r.client.SetNX(ctx, key, token, ttl).Result()
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, fmt.Errorf("session: lock not taken: %w", ctxErr)
			}
			return nil, unavailable("SET NX", err)
		}
		if ok {
			break
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("session: lock not taken: %w", ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, lockBackoffMax)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
			defer cancel()
			_ = unlockScript.Run(ctx, r.client, []string{key}, token).Err()
		})
	}, nil
}
