// Package authn is kfgate's Envoy ext_authz service: single sign-on through OpenID Connect for
// browsers, bearer tokens for API and machine clients, and a trustworthy identity header for the
// upstream apps.
//
// Check turns a CheckRequest into a Request (request.go), plain functions decide what to do with it
// (paths.go, browser.go, redirect.go, hygiene.go), the flows that need the identity provider or the
// session store run in login.go, callback.go, refresh.go and logout.go, and respond.go turns the
// outcome into a CheckResponse. Everything that touches the network, a clock or randomness is
// injected through Deps, so the flows are tested deterministically.
package authn
