package bearer

import (
	"errors"
	"fmt"
)

// The errors Verify returns wrap one of these, so that the caller can choose its answer with
// errors.Is.
var (
	// ErrUnknownIssuer: the token's iss is not a configured issuer (and no TokenReview takes it).
	ErrUnknownIssuer = errors.New("token issuer is not trusted")
	// ErrInvalidToken: the token is malformed, badly signed, expired, for another audience or lacks
	// the claims an identity needs.
	ErrInvalidToken = errors.New("invalid token")
	// ErrUnavailable: the token cannot be checked right now (the issuer's discovery document or keys
	// cannot be fetched, the API server does not answer); the caller should answer 503, not 401.
	ErrUnavailable = errors.New("token cannot be verified now")
)

// invalidf is an ErrInvalidToken with a reason.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}

// clip shortens a value taken from an untrusted token before it goes into an error message, so that
// a client cannot fill the logs through one.
func clip(s string) string {
	const limit = 100
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
