package session

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// locker is the part of Store the lock tests exercise, so the in-process and the Redis lock run
// the same checks.
type locker interface {
	Lock(ctx context.Context, id string, ttl time.Duration) (func(), error)
}

// testLockExcludes has many goroutines take the same lock and checks none overlap. Run with
// -race: the unsynchronised counter is only safe if the lock excludes.
func testLockExcludes(t *testing.T, lockers []locker, id string) {
	t.Helper()
	var inside atomic.Int32
	counter := 0
	var wg sync.WaitGroup
	const workers, rounds = 8, 20
	for w := range workers {
		l := lockers[w%len(lockers)]
		wg.Go(func() {
			for range rounds {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				unlock, err := l.Lock(ctx, id, 10*time.Second)
				cancel()
				if err != nil {
					t.Error(err)
					return
				}
				if n := inside.Add(1); n != 1 {
					t.Errorf("%d holders at once", n)
				}
				counter++
				time.Sleep(100 * time.Microsecond)
				inside.Add(-1)
				unlock()
			}
		})
	}
	wg.Wait()
	if counter != workers*rounds {
		t.Fatalf("counter = %d, want %d", counter, workers*rounds)
	}
}

// testLockDeadline checks a waiter gives up when its ctx is done, with an error saying so.
func testLockDeadline(t *testing.T, a, b locker, id string) {
	t.Helper()
	unlock, err := a.Lock(t.Context(), id, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = b.Lock(ctx, id, time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 40*time.Millisecond || d > 5*time.Second {
		t.Fatalf("gave up after %v, want about 50ms", d)
	}
	done, cancelDone := context.WithCancel(t.Context())
	cancelDone()
	if _, err := b.Lock(done, id+"x", time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("done ctx, free lock: err = %v, want Canceled", err)
	}
}

// testLockTTL checks the lock frees itself after ttl, and that the first holder's late unlock
// does not release the second holder's lock.
func testLockTTL(t *testing.T, a, b locker, id string) {
	t.Helper()
	unlockA, err := a.Lock(t.Context(), id, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	unlockB, err := b.Lock(ctx, id, time.Minute)
	if err != nil {
		t.Fatalf("lock not freed by its ttl: %v", err)
	}
	unlockA() // late: must leave B's lock alone
	unlockA() // and is safe twice
	short, cancelShort := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancelShort()
	if _, err := a.Lock(short, id, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a late unlock released another holder's lock: err = %v", err)
	}
	unlockB()
	unlockC, err := a.Lock(ctx, id, time.Minute)
	if err != nil {
		t.Fatalf("lock not free after unlock: %v", err)
	}
	unlockC()
}

func TestCookieStoreLockExcludes(t *testing.T) {
	st := testCookieStore(t, newClock(t0), Options{})
	testLockExcludes(t, []locker{st}, "id-1")
	if n := st.locks.size(); n != 0 {
		t.Fatalf("%d lock entries left", n)
	}
}

func TestCookieStoreLockDeadline(t *testing.T) {
	st := testCookieStore(t, newClock(t0), Options{})
	testLockDeadline(t, st, st, "id-1")
	if n := st.locks.size(); n != 0 {
		t.Fatalf("%d lock entries left after a waiter gave up", n)
	}
}

func TestCookieStoreLockTTL(t *testing.T) {
	st := testCookieStore(t, newClock(t0), Options{})
	testLockTTL(t, st, st, "id-1")
	if n := st.locks.size(); n != 0 {
		t.Fatalf("%d lock entries left", n)
	}
}

func TestCookieStoreLockIndependentIDs(t *testing.T) {
	st := testCookieStore(t, newClock(t0), Options{})
	unlock, err := st.Lock(t.Context(), "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	unlockB, err := st.Lock(ctx, "b", time.Minute)
	if err != nil {
		t.Fatalf("another ID's lock blocked: %v", err)
	}
	unlockB()
	if _, err := st.Lock(ctx, "c", 0); err == nil {
		t.Fatal("zero ttl accepted")
	}
}
