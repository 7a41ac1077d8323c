// Package session keeps what kfgate knows about a logged-in browser between requests.
//
// A Session is created after a successful OIDC login and kept by a Store:
//
//   - CookieStore (the default) seals the whole session into the browser's cookies, split into
//     chunks when the ID token is large. Nothing is kept server-side, so every kfgate replica can
//     serve every browser, but a session cannot be revoked before it expires.
//   - RedisStore keeps the session in Redis, sealed so that tokens are encrypted at rest, and the
//     cookie carries only the opaque session ID. Delete revokes it everywhere.
//
// Values are sealed by a Keyring (AES-256-GCM). The first key seals and every key opens, so keys
// are rotated by prepending the new key, waiting out the absolute timeout, and dropping the old one.
//
// Every error is meant to be treated by the caller as "no valid session" except ErrUnavailable,
// which means the store could not be asked (Redis down) and should be answered with 503 rather
// than a new login. Errors wrap the sentinels below with a precise reason for logs and metrics;
// they never contain keys, cookie values or tokens.
package session
