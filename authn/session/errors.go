package session

import "errors"

// The sentinel errors a Store and a Keyring return, always wrapped with a reason. Use errors.Is.
var (
	// ErrNoSession means the request carries no session cookie at all: the browser is not logged in.
	ErrNoSession = errors.New("session: no session cookie")
	// ErrInvalid means a value is present but cannot be trusted: malformed, tampered with, sealed
	// with a key the Keyring does not hold or for another purpose, or cookie chunks that do not fit
	// together.
	ErrInvalid = errors.New("session: invalid session")
	// ErrExpired means the session was valid but its absolute or idle timeout has passed.
	ErrExpired = errors.New("session: session expired")
	// ErrNotFound means a well-formed session ID that the server-side store does not know: it was
	// deleted (logout, revocation) or expired there. Like ErrNoSession it asks for a new login.
	ErrNotFound = errors.New("session: session not found")
	// ErrUnavailable means the server-side store could not be reached or answered with an error.
	// The session may well be valid: callers should answer 503 instead of logging the user out.
	ErrUnavailable = errors.New("session: store unavailable")
	// ErrTooLarge means a session does not fit in the cookies a CookieStore may set.
	ErrTooLarge = errors.New("session: session too large for cookies")
)
