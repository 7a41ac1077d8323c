package redisserver

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("Addr = %q", s.Addr)
	}
	c := s.Client(t)
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Persistence is off: a restart must come back empty.
	for _, p := range []string{"save", "appendonly", "protected-mode", "bind"} {
		got, err := c.ConfigGet(ctx, p).Result()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"save": "", "appendonly": "no", "protected-mode": "yes", "bind": "127.0.0.1"}[p]
		if got[p] != want {
			t.Errorf("config %s = %q, want %q", p, got[p], want)
		}
	}

	s.Stop()
	s.Stop() // idempotent
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err = c.Ping(short).Err()
	var opErr *net.OpError
	if err == nil || !errors.As(err, &opErr) && !strings.Contains(err.Error(), "refused") {
		t.Fatalf("PING to a stopped server: %v", err)
	}

	addr := s.Addr
	s.Restart(t)
	if s.Addr != addr {
		t.Fatalf("Restart moved from %s to %s", addr, s.Addr)
	}
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("data survived the restart: %v", err)
	}
}

func TestParallelServers(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Addr == b.Addr {
		t.Fatal("two servers on one address")
	}
	ctx := t.Context()
	if err := a.Client(t).Set(ctx, "k", "a", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.Client(t).Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("servers share data: %v", err)
	}
}
