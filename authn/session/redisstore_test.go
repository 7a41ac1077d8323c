package session

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kfgate/kfgate/test/redisserver"
)

func testRedisStore(t *testing.T, client redis.UniversalClient, c *clock, o Options) *RedisStore {
	t.Helper()
	if o.Now == nil {
		o.Now = c.Now
	}
	if o.Rand == nil {
		o.Rand = seeded(11)
	}
	st, err := NewRedisStore(client, testKeyring(t), o)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRedisStoreRoundTrip(t *testing.T) {
	srv := redisserver.Start(t)
	rc := srv.Client(t)
	c := newClock(t0)
	st := testRedisStore(t, rc, c, Options{Secure: true})
	s := testSession(t, t0, 1)
	b := browser{}
	set := saveTo(t, st, b, s)
	if len(set) != 1 || set[0].Name != "__Host-kfgate-session" || set[0].Value != s.ID {
		t.Fatalf("cookies %v: want one carrying the ID", set)
	}
	checkAttributes(t, set[0], true)
	if set[0].MaxAge != int(12*time.Hour/time.Second) {
		t.Errorf("MaxAge = %d, want the absolute timeout in seconds", set[0].MaxAge)
	}

	keys, err := rc.Keys(t.Context(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := "kfgate:session:" + idHash(s.ID); len(keys) != 1 || keys[0] != want {
		t.Fatalf("Redis keys %v, want [%s]", keys, want)
	}

	c.Advance(10 * time.Minute)
	got, err := st.Load(t.Context(), b.cookies())
	if err != nil {
		t.Fatal(err)
	}
	sameSession(t, got, s)

	// A second store (another replica) with the same keys reads it too.
	other := testRedisStore(t, srv.Client(t), c, Options{Secure: true})
	if _, err := other.Load(t.Context(), b.cookies()); err != nil {
		t.Fatalf("another replica: %v", err)
	}
}

func TestRedisStoreEncryptedAtRest(t *testing.T) {
	srv := redisserver.Start(t)
	rc := srv.Client(t)
	st := testRedisStore(t, rc, newClock(t0), Options{})
	s := testSession(t, t0, 1)
	saveTo(t, st, browser{}, s)
	raw, err := rc.Get(t.Context(), redisSessionKey(s.ID)).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{s.RefreshToken, s.IDToken, s.User, s.ID, "REFRESH"} {
		if strings.Contains(raw, secret) {
			t.Fatalf("Redis value contains %q in the clear", secret)
		}
	}
	if _, err := st.keys.Open(redisPurpose, raw); err != nil {
		t.Fatalf("Redis value is not sealed for %q: %v", redisPurpose, err)
	}
}

func TestRedisStoreTTL(t *testing.T) {
	srv := redisserver.Start(t)
	rc := srv.Client(t)
	c := newClock(t0)
	st := testRedisStore(t, rc, c, Options{AbsoluteTimeout: 12 * time.Hour, IdleTimeout: time.Hour})
	for _, tc := range []struct {
		name    string
		created time.Time
		want    time.Duration
	}{
		{"idle bounds", t0, time.Hour},
		{"absolute bounds", t0.Add(-11*time.Hour - 30*time.Minute), 30 * time.Minute},
		{"absolute with sub-second", t0.Add(-12*time.Hour + 1500*time.Millisecond), 1500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSession(t, tc.created, byte(len(tc.name)))
			s.LastSeen = t0
			set := saveTo(t, st, browser{}, s)
			pttl, err := rc.PTTL(t.Context(), redisSessionKey(s.ID)).Result()
			if err != nil {
				t.Fatal(err)
			}
			// Redis counts real time since the SET: allow a little for the round trip.
			if low := tc.want - min(2*time.Second, tc.want/2); pttl > tc.want || pttl < low {
				t.Fatalf("PTTL = %v, want about %v", pttl, tc.want)
			}
			if ttl, _ := rc.TTL(t.Context(), redisSessionKey(s.ID)).Result(); ttl > tc.want+time.Second {
				t.Fatalf("TTL = %v, want at most %v", ttl, tc.want)
			}
			if want := int((tc.created.Add(12 * time.Hour).Sub(t0)) / time.Second); set[0].MaxAge != want {
				t.Errorf("MaxAge = %d, want %d", set[0].MaxAge, want)
			}
		})
	}

	// A later Save refreshes the TTL.
	s := testSession(t, t0, 1)
	saveTo(t, st, browser{}, s)
	c.Advance(50 * time.Minute)
	s.LastSeen = c.Now()
	saveTo(t, st, browser{}, s)
	if pttl, _ := rc.PTTL(t.Context(), redisSessionKey(s.ID)).Result(); pttl < 59*time.Minute {
		t.Fatalf("PTTL after a second Save = %v, want about 1h", pttl)
	}
}

func TestRedisStoreDeleteRevokes(t *testing.T) {
	srv := redisserver.Start(t)
	rc := srv.Client(t)
	st := testRedisStore(t, rc, newClock(t0), Options{Secure: true})
	s := testSession(t, t0, 1)
	b := browser{}
	saveTo(t, st, b, s)
	stolen := b.cookies() // a copy of the cookie held elsewhere

	cleared, err := st.Delete(t.Context(), b.cookies())
	if err != nil {
		t.Fatal(err)
	}
	if len(cleared) != 1 || cleared[0].MaxAge != -1 || cleared[0].Name != "__Host-kfgate-session" {
		t.Fatalf("cleared %v", cleared)
	}
	checkAttributes(t, cleared[0], true)
	if _, err := st.Load(t.Context(), stolen); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load after Delete: err = %v, want ErrNotFound", err)
	}
	if n, _ := rc.Exists(t.Context(), redisSessionKey(s.ID)).Result(); n != 0 {
		t.Fatal("key still in Redis")
	}
}

func TestRedisStoreLoadErrors(t *testing.T) {
	srv := redisserver.Start(t)
	rc := srv.Client(t)
	c := newClock(t0)
	st := testRedisStore(t, rc, c, Options{})
	s := testSession(t, t0, 1)
	b := browser{}
	saveTo(t, st, b, s)

	if _, err := st.Load(t.Context(), nil); !errors.Is(err, ErrNoSession) {
		t.Errorf("no cookie: %v", err)
	}
	unknown, _ := NewID(seeded(99))
	if _, err := st.Load(t.Context(), []*http.Cookie{{Name: "kfgate-session", Value: unknown}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown ID: %v", err)
	}

	// The stored value of one ID copied under another's key does not become that session.
	other, _ := NewID(seeded(98))
	raw, _ := rc.Get(t.Context(), redisSessionKey(s.ID)).Result()
	rc.Set(t.Context(), redisSessionKey(other), raw, time.Hour)
	_, err := st.Load(t.Context(), []*http.Cookie{{Name: "kfgate-session", Value: other}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "another ID") {
		t.Errorf("copied value: %v", err)
	}
	rc.Set(t.Context(), redisSessionKey(other), "garbage", time.Hour)
	if _, err := st.Load(t.Context(), []*http.Cookie{{Name: "kfgate-session", Value: other}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("garbage value: %v", err)
	}

	c.Advance(time.Hour + time.Second) // Redis still has it (real time), the session is idle
	if _, err := st.Load(t.Context(), b.cookies()); !errors.Is(err, ErrExpired) {
		t.Errorf("idle session: %v", err)
	}
}

// Malformed cookies are refused before Redis is asked: with Redis down they still give
// ErrInvalid, not ErrUnavailable.
func TestRedisStoreMalformedCookieNoRoundTrip(t *testing.T) {
	srv := redisserver.Start(t)
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	defer func() { _ = rc.Close() }()
	st := testRedisStore(t, rc, newClock(t0), Options{})
	srv.Stop()
	id, _ := NewID(seeded(1))
	for _, v := range []string{"", "x", id[:42], id + "A", id[:42] + "=", "../../etc", strings.Repeat("A", 42) + "B", "1." + id} {
		_, err := st.Load(t.Context(), []*http.Cookie{{Name: "kfgate-session", Value: v}})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("cookie %q: err = %v, want ErrInvalid", v, err)
		}
		mustNotLeak(t, err, v)
	}
	if _, err := st.Load(t.Context(), []*http.Cookie{{Name: "kfgate-session", Value: id}, {Name: "kfgate-session", Value: id}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("duplicate cookie: %v", err)
	}
}

func TestRedisStoreUnavailable(t *testing.T) {
	srv := redisserver.Start(t)
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	defer func() { _ = rc.Close() }()
	st := testRedisStore(t, rc, newClock(t0), Options{})
	s := testSession(t, t0, 1)
	b := browser{}
	saveTo(t, st, b, s)

	srv.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := st.Load(ctx, b.cookies())
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) {
		t.Fatalf("Load with Redis down: err = %v, want ErrUnavailable only", err)
	}
	mustNotLeak(t, err, s.ID, s.RefreshToken)
	if _, err := st.Save(ctx, s, nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Save with Redis down: %v", err)
	}
	cleared, err := st.Delete(ctx, b.cookies())
	if !errors.Is(err, ErrUnavailable) || len(cleared) != 1 || cleared[0].MaxAge != -1 {
		t.Fatalf("Delete with Redis down: %v, %v (want the clearing cookie and ErrUnavailable)", cleared, err)
	}
	if _, err := st.Lock(ctx, s.ID, time.Second); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Lock with Redis down: %v", err)
	}

	srv.Restart(t) // empty: the session is gone, and now that is known
	if _, err := st.Load(ctx, b.cookies()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load after restart: %v, want ErrNotFound", err)
	}
}

// Chunk cookies left by a CookieStore (the deployment switched stores) are cleared by Save.
func TestRedisStoreClearsStaleChunks(t *testing.T) {
	srv := redisserver.Start(t)
	c := newClock(t0)
	st := testRedisStore(t, srv.Client(t), c, Options{Secure: true})
	cs := testCookieStore(t, c, Options{Secure: true})
	b := browser{}
	saveTo(t, cs, b, bigSession(t, t0, 1))
	n := len(b)
	if _, err := st.Load(t.Context(), b.cookies()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("cookie-store cookie loaded by the Redis store: %v", err)
	}
	set := saveTo(t, st, b, testSession(t, t0, 2))
	if len(set) != n || len(b) != 1 {
		t.Fatalf("Save set %d cookies (want 1 + %d cleared); browser keeps %d", len(set), n-1, len(b))
	}
	if !st.Owns("__Host-kfgate-session-1") {
		t.Fatal("Redis store does not own chunk names it clears")
	}
}

func TestRedisStoreLock(t *testing.T) {
	srv := redisserver.Start(t)
	c := newClock(t0)
	a := testRedisStore(t, srv.Client(t), c, Options{Rand: seeded(1)})
	b := testRedisStore(t, srv.Client(t), c, Options{Rand: seeded(2)})
	id, _ := NewID(seeded(1))

	t.Run("excludes across stores", func(t *testing.T) { testLockExcludes(t, []locker{a, b}, id) })
	t.Run("deadline", func(t *testing.T) { testLockDeadline(t, a, b, id) })
	t.Run("ttl", func(t *testing.T) { testLockTTL(t, a, b, id) })
	t.Run("key", func(t *testing.T) {
		rc := srv.Client(t)
		unlock, err := a.Lock(t.Context(), id, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := rc.Keys(t.Context(), "kfgate:lock:*").Result()
		if want := "kfgate:lock:" + idHash(id); len(keys) != 1 || keys[0] != want {
			t.Fatalf("lock keys %v, want [%s]", keys, want)
		}
		if pttl, _ := rc.PTTL(t.Context(), keys[0]).Result(); pttl <= 0 || pttl > time.Minute {
			t.Fatalf("lock PTTL %v", pttl)
		}
		unlock()
		if n, _ := rc.Exists(t.Context(), keys[0]).Result(); n != 0 {
			t.Fatal("unlock left the key")
		}
	})
	t.Run("bad ttl", func(t *testing.T) {
		if _, err := a.Lock(t.Context(), id, time.Microsecond); err == nil {
			t.Fatal("sub-millisecond ttl accepted")
		}
	})
}

func TestNewRedisStoreErrors(t *testing.T) {
	if _, err := NewRedisStore(nil, testKeyring(t), Options{}); err == nil {
		t.Error("nil client accepted")
	}
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer func() { _ = rc.Close() }()
	if _, err := NewRedisStore(rc, nil, Options{}); err == nil {
		t.Error("nil keyring accepted")
	}
	if _, err := NewRedisStore(rc, testKeyring(t), Options{IdleTimeout: -1}); err == nil {
		t.Error("bad options accepted")
	}
}
