package authn

import (
	"context"
	"crypto/sha256"
	"net/http"
	"sort"
	"time"

	"github.com/kfgate/kfgate/authn/bearer"
	"github.com/kfgate/kfgate/authn/internal/ttlcache"
	"github.com/kfgate/kfgate/authn/session"
)

// cacheSize bounds each memo; when full, the oldest entry goes. Keys are SHA-256 digests, so a
// memo never holds cookie values or tokens themselves.
const cacheSize = 10000

// cachedCookieStore keeps recently opened cookie sessions, so that a busy browser's requests do not
// each decrypt and decode its cookie. A cookie that differs in any byte is another key, so tampered
// cookies always reach the store; the timeouts are checked on every hit. Only for the cookie store:
// a Redis session must be read each time, or revoking it would take effect late.
type cachedCookieStore struct {
	session.Store
	absolute, idle time.Duration
	now            func() time.Time
	memo           *ttlcache.Cache[[32]byte, session.Session]
}

func (c *cachedCookieStore) key(cookies []*http.Cookie) ([32]byte, bool) {
	var owned []string
	for _, ck := range cookies {
		if c.Owns(ck.Name) {
			owned = append(owned, ck.Name+"="+ck.Value)
		}
	}
	if len(owned) == 0 {
		return [32]byte{}, false
	}
	sort.Strings(owned)
	h := sha256.New()
	for _, s := range owned {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var k [32]byte
	h.Sum(k[:0])
	return k, true
}

// Load implements session.Store.
func (c *cachedCookieStore) Load(ctx context.Context, cookies []*http.Cookie) (*session.Session, error) {
	k, ok := c.key(cookies)
	now := c.now()
	if ok {
		if s, hit := c.memo.Get(k, now); hit && now.Before(s.Created.Add(c.absolute)) && now.Before(s.LastSeen.Add(c.idle)) {
			return &s, nil
		}
	}
	s, err := c.Store.Load(ctx, cookies)
	if err == nil && ok {
		c.memo.Put(k, *s, now.Add(time.Minute))
	}
	return s, err
}

// cachedBearer keeps verified bearer tokens until they expire (at most 2 minutes): a client sending
// the same token again is not verified again. Failures are not cached.
type cachedBearer struct {
	BearerVerifier
	now  func() time.Time
	memo *ttlcache.Cache[[32]byte, bearer.Identity]
}

// Verify implements BearerVerifier.
func (c *cachedBearer) Verify(ctx context.Context, raw string) (bearer.Identity, error) {
	k := sha256.Sum256([]byte(raw))
	now := c.now()
	if id, ok := c.memo.Get(k, now); ok {
		return id, nil
	}
	id, err := c.BearerVerifier.Verify(ctx, raw)
	if err != nil {
		return id, err
	}
	deadline := now.Add(2 * time.Minute)
	if !id.Expiry.IsZero() && id.Expiry.Before(deadline) {
		deadline = id.Expiry
	}
	c.memo.Put(k, id, deadline)
	return id, nil
}
