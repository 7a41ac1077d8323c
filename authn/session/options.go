package session

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Defaults for Options fields left zero.
const (
	DefaultCookieName      = "kfgate-session"
	DefaultAbsoluteTimeout = 12 * time.Hour
	DefaultIdleTimeout     = time.Hour
)

// hostPrefix is the cookie name prefix that makes browsers insist on Secure, Path=/ and no
// Domain, so neither a sibling subdomain nor a plain-HTTP page can set or shadow the cookie.
const hostPrefix = "__Host-"

// maxCookieNameLen keeps the name small next to the chunk values, whose size budget assumes it.
const maxCookieNameLen = 64

// Options configure a Store.
type Options struct {
	// CookieName is the base name, default DefaultCookieName. When Secure, the cookie is named
	// "__Host-" + CookieName. The names CookieName-1 ... CookieName-7 are reserved for chunks.
	CookieName string
	// Secure sets the Secure attribute and the __Host- prefix; false only for plain-HTTP
	// development.
	Secure bool
	// AbsoluteTimeout bounds a session's life from login, default DefaultAbsoluteTimeout.
	AbsoluteTimeout time.Duration
	// IdleTimeout ends a session not used for this long, default the smaller of
	// DefaultIdleTimeout and AbsoluteTimeout. It cannot be disabled: it must be positive and at
	// most AbsoluteTimeout.
	IdleTimeout time.Duration
	// Now is the clock, default time.Now.
	Now func() time.Time
	// Rand is the random source (lock tokens), default crypto/rand.Reader. Concurrent use is
	// serialised, so a seeded test generator is fine.
	Rand io.Reader
}

// withDefaults fills zero fields and validates the result.
func (o Options) withDefaults() (Options, error) {
	if o.CookieName == "" {
		o.CookieName = DefaultCookieName
	}
	if err := validCookieName(o.CookieName); err != nil {
		return o, err
	}
	if o.AbsoluteTimeout == 0 {
		o.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if o.AbsoluteTimeout < time.Second {
		// Max-Age counts whole seconds: a shorter session could never be given a cookie.
		return o, fmt.Errorf("session: absolute timeout %v is shorter than 1s", o.AbsoluteTimeout)
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = min(DefaultIdleTimeout, o.AbsoluteTimeout)
	}
	if o.IdleTimeout < 0 {
		return o, fmt.Errorf("session: idle timeout %v is negative; it cannot be disabled", o.IdleTimeout)
	}
	if o.IdleTimeout > o.AbsoluteTimeout {
		return o, fmt.Errorf("session: idle timeout %v is longer than the absolute timeout %v", o.IdleTimeout, o.AbsoluteTimeout)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	} else {
		o.Rand = lockReader(o.Rand)
	}
	return o, nil
}

// validCookieName accepts the RFC 6265 token characters, without a prefix browsers treat
// specially (Secure decides the prefix).
func validCookieName(name string) error {
	if len(name) > maxCookieNameLen {
		return fmt.Errorf("session: cookie name is %d bytes, more than %d", len(name), maxCookieNameLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return fmt.Errorf("session: cookie name %q has %q, not allowed in a cookie name", name, c)
		}
	}
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "__host-") || strings.HasPrefix(lower, "__secure-") {
		return fmt.Errorf("session: cookie name %q has a __Host-/__Secure- prefix; set Secure instead", name)
	}
	return nil
}

// cookieName is the name of the session cookie (its first chunk).
func (o Options) cookieName() string { return CookieName(o.CookieName, o.Secure) }

// absoluteDeadline is when s ends however much it is used.
func (o Options) absoluteDeadline(s *Session) time.Time {
	return s.Created.Add(o.AbsoluteTimeout)
}

// deadline is when s ends unless it is used (and saved) again.
func (o Options) deadline(s *Session) time.Time {
	idle := s.LastSeen.Add(o.IdleTimeout)
	if abs := o.absoluteDeadline(s); abs.Before(idle) {
		return abs
	}
	return idle
}

// checkExpiry returns ErrExpired, with which timeout, when s has ended at now. A session is still
// valid at the exact deadline and ends right after it.
func (o Options) checkExpiry(s *Session, now time.Time) error {
	if abs := o.absoluteDeadline(s); now.After(abs) {
		return fmt.Errorf("%w: absolute timeout %v passed %v ago", ErrExpired, o.AbsoluteTimeout, now.Sub(abs))
	}
	if idle := s.LastSeen.Add(o.IdleTimeout); now.After(idle) {
		return fmt.Errorf("%w: idle timeout %v passed %v ago", ErrExpired, o.IdleTimeout, now.Sub(idle))
	}
	return nil
}

// touchEvery is the fraction of the idle timeout after which Touch asks for a new LastSeen. Saving
// on every request would send a new cookie (or write Redis) each time; this way the idle timeout
// is honoured to within a tenth of itself.
const touchEvery = 10

// touch sets s.LastSeen to now and reports true when the last one is older than a tenth of the
// idle timeout (or in the future, from a replica whose clock runs ahead).
func (o Options) touch(s *Session, now time.Time) bool {
	age := now.Sub(s.LastSeen)
	if age >= 0 && age < o.IdleTimeout/touchEvery {
		return false
	}
	s.LastSeen = now
	return true
}

// checkSave validates s before it is written.
func (o Options) checkSave(s *Session, now time.Time) error {
	if s == nil {
		return errors.New("session: Save of a nil session")
	}
	if !validID(s.ID) {
		return errors.New("session: Save of a session whose ID is not one NewID made")
	}
	return o.checkExpiry(s, now)
}
