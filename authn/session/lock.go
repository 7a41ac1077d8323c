package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// keyedLocks is one mutex per session ID, created on demand and dropped when nobody holds or
// waits for it, so the map does not grow with every session ever seen. The zero value is ready.
type keyedLocks struct {
	mu sync.Mutex
	m  map[string]*keyedLock
}

type keyedLock struct {
	// sem holds a token while the lock is held: a channel, unlike sync.Mutex, lets a waiter give
	// up when its ctx is done.
	sem  chan struct{}
	refs int // holders and waiters
}

// errBadTTL is returned for a non-positive lock ttl, which would make the lock expire at once.
var errBadTTL = errors.New("session: lock ttl must be positive")

// lock takes the lock for id, waiting until ctx is done. The lock is released by the returned
// func or, like a Redis lock, when ttl passes, so a holder stuck in a slow refresh cannot block
// the session forever.
func (l *keyedLocks) lock(ctx context.Context, id string, ttl time.Duration) (func(), error) {
	if ttl <= 0 {
		return nil, errBadTTL
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("session: lock not taken: %w", err)
	}
	e := l.acquireRef(id)
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		l.releaseRef(id, e)
		return nil, fmt.Errorf("session: lock not taken: %w", ctx.Err())
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			<-e.sem
			l.releaseRef(id, e)
		})
	}
	timer := time.AfterFunc(ttl, release)
	return func() {
		timer.Stop()
		release()
	}, nil
}

func (l *keyedLocks) acquireRef(id string) *keyedLock {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[string]*keyedLock)
	}
	e := l.m[id]
	if e == nil {
		e = &keyedLock{sem: make(chan struct{}, 1)}
		l.m[id] = e
	}
	e.refs++
	return e
}

func (l *keyedLocks) releaseRef(id string, e *keyedLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.refs--
	if e.refs == 0 {
		delete(l.m, id)
	}
}

// size is the number of IDs with a holder or waiter (tests check nothing leaks).
func (l *keyedLocks) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
