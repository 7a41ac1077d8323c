package authn

// SetBearer replaces the Authorizer's bearer verifier without the memo, so that a benchmark can
// measure a full verification per request.
func SetBearer(a *Authorizer, v BearerVerifier) { a.d.Bearer = v }
