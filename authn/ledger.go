package authn

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

var cryptoRand io.Reader = rand.Reader

// randomString returns n random bytes, base64url.
func randomString(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("reading randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Ledger makes each login state usable once: a replayed callback (the same state and cookie
// again) is refused even while the flow cookie has not expired.
type Ledger interface {
	// Claim records key as used; false when it already was.
	Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// memoryLedger is the ledger of one replica (cookie sessions). Entries expire with their flow.
type memoryLedger struct {
	now  func() time.Time
	mu   sync.Mutex
	used map[string]time.Time
}

func newMemoryLedger(now func() time.Time) *memoryLedger {
	return &memoryLedger{now: now, used: map[string]time.Time{}}
}

func (l *memoryLedger) Claim(_ context.Context, key string, ttl time.Duration) (bool, error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.used) > 10000 {
		for k, exp := range l.used {
			if now.After(exp) {
				delete(l.used, k)
			}
		}
	}
	if exp, ok := l.used[key]; ok && !now.After(exp) {
		return false, nil
	}
	l.used[key] = now.Add(ttl)
	return true, nil
}

// RedisLedger shares the ledger between replicas.
type RedisLedger struct{ Client redis.UniversalClient }

// Claim implements Ledger with SET NX.
func (l RedisLedger) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	sum := sha256.Sum256([]byte(key))
	return l.Client.SetNX(ctx, "kfgate:state:"+hex.EncodeToString(sum[:]), 1, ttl).Result()
}
