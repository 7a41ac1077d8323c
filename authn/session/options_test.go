package session

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.CookieName != "kfgate-session" || o.AbsoluteTimeout != 12*time.Hour || o.IdleTimeout != time.Hour || o.Now == nil || o.Rand == nil {
		t.Fatalf("defaults: %+v", o)
	}
	if o.cookieName() != "kfgate-session" {
		t.Errorf("insecure cookie name %q", o.cookieName())
	}
	o.Secure = true
	if o.cookieName() != "__Host-kfgate-session" {
		t.Errorf("secure cookie name %q", o.cookieName())
	}
	short, err := Options{AbsoluteTimeout: 30 * time.Minute}.withDefaults()
	if err != nil || short.IdleTimeout != 30*time.Minute {
		t.Fatalf("idle default with a short absolute timeout: %v, %v", short.IdleTimeout, err)
	}
}

func TestOptionsInvalid(t *testing.T) {
	cases := map[string]struct {
		o    Options
		want string
	}{
		"idle > absolute":  {Options{AbsoluteTimeout: time.Hour, IdleTimeout: 2 * time.Hour}, "longer than the absolute"},
		"negative idle":    {Options{IdleTimeout: -1}, "cannot be disabled"},
		"negative abs":     {Options{AbsoluteTimeout: -time.Hour}, "shorter than 1s"},
		"sub-second abs":   {Options{AbsoluteTimeout: time.Millisecond}, "shorter than 1s"},
		"name with ;":      {Options{CookieName: "a;b"}, "not allowed"},
		"name with space":  {Options{CookieName: "a b"}, "not allowed"},
		"name with =":      {Options{CookieName: "a=b"}, "not allowed"},
		"name with __Host": {Options{CookieName: "__Host-x"}, "set Secure instead"},
		"name __secure":    {Options{CookieName: "__secure-x"}, "set Secure instead"},
		"name too long":    {Options{CookieName: strings.Repeat("a", 65)}, "more than 64"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := tc.o.withDefaults()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if _, err := NewCookieStore(testKeyring(t), tc.o); err == nil {
				t.Fatal("NewCookieStore accepted the options")
			}
		})
	}
	if _, err := NewCookieStore(nil, Options{}); err == nil {
		t.Fatal("NewCookieStore accepted a nil keyring")
	}
}

func TestCheckExpiryBoundaries(t *testing.T) {
	o, _ := Options{AbsoluteTimeout: 12 * time.Hour, IdleTimeout: time.Hour}.withDefaults()
	s := &Session{Created: t0, LastSeen: t0}
	for _, tc := range []struct {
		name    string
		seen    time.Time
		now     time.Time
		expired string // "" valid
	}{
		{"fresh", t0, t0, ""},
		{"idle deadline exactly", t0, t0.Add(time.Hour), ""},
		{"idle passed", t0, t0.Add(time.Hour + time.Nanosecond), "idle"},
		{"absolute deadline exactly", t0.Add(12 * time.Hour), t0.Add(12 * time.Hour), ""},
		{"absolute passed though active", t0.Add(12 * time.Hour), t0.Add(12*time.Hour + time.Nanosecond), "absolute"},
		{"zero created", time.Time{}, t0, "absolute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := *s
			s.LastSeen = tc.seen
			if tc.name == "zero created" {
				s.Created = time.Time{}
			}
			err := o.checkExpiry(&s, tc.now)
			if tc.expired == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrExpired) || !strings.Contains(err.Error(), tc.expired) {
				t.Fatalf("err = %v, want ErrExpired (%s)", err, tc.expired)
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	o, _ := Options{}.withDefaults()
	s := &Session{Created: t0, LastSeen: t0.Add(11*time.Hour + 30*time.Minute)}
	if got := o.deadline(s); !got.Equal(t0.Add(12 * time.Hour)) {
		t.Errorf("deadline near the absolute timeout = %v", got)
	}
	s.LastSeen = t0.Add(time.Hour)
	if got := o.deadline(s); !got.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("deadline by idle = %v", got)
	}
}

func TestTouch(t *testing.T) {
	c := newClock(t0)
	st := testCookieStore(t, c, Options{IdleTimeout: time.Hour})
	s := testSession(t, t0, 1)
	c.Advance(6*time.Minute - time.Nanosecond)
	if st.Touch(s) || !s.LastSeen.Equal(t0) {
		t.Fatal("Touch within a tenth of the idle timeout changed the session")
	}
	c.Advance(time.Nanosecond)
	if !st.Touch(s) || !s.LastSeen.Equal(t0.Add(6*time.Minute)) {
		t.Fatalf("Touch after a tenth of the idle timeout: LastSeen = %v", s.LastSeen)
	}
	s.LastSeen = c.Now().Add(time.Minute) // written by a replica whose clock runs ahead
	if !st.Touch(s) || !s.LastSeen.Equal(c.Now()) {
		t.Fatal("Touch kept a LastSeen in the future")
	}
}
