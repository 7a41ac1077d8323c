// Package bearer verifies "Authorization: Bearer" tokens of API and machine clients: JWTs of trusted
// OIDC issuers (Dex, another provider, a cluster's ServiceAccount issuer), checked offline against
// each issuer's published keys, and Kubernetes ServiceAccount tokens checked by the API server
// through TokenReview.
//
// Nothing in a token is trusted before its signature is checked: the unverified payload is read only
// to find the issuer whose keys must verify it. Errors say why a token was rejected and never
// contain the token.
package bearer
