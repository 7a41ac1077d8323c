package authn

import (
	"errors"
	"fmt"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
)

// claims reads the user and groups from a verified ID token, as identity.userClaim and
// identity.groupsClaim say.
func (a *Authorizer) claims(idt *oidc.IDToken) (string, []string, error) {
	var all map[string]any
	if err := idt.Claims(&all); err != nil {
		return "", nil, fmt.Errorf("id_token claims: %w", err)
	}
	return mapClaims(all, a.cfg.Identity.UserClaim, a.cfg.Identity.GroupsClaim)
}

// mapClaims extracts the user (a non-empty string claim) and groups (a string or a list of strings).
// An email claim must be a single address and not marked unverified.
func mapClaims(all map[string]any, userClaim, groupsClaim string) (string, []string, error) {
	user, _ := all[userClaim].(string)
	if user == "" {
		return "", nil, fmt.Errorf("id_token: claim %q is missing or not a string", userClaim)
	}
	if userClaim == "email" {
		if err := checkEmail(user); err != nil {
			return "", nil, err
		}
		switch v := all["email_verified"].(type) {
		case bool:
			if !v {
				return "", nil, errors.New("id_token: email_verified is false")
			}
		case string: // some providers send it as a string
			if v != "true" {
				return "", nil, fmt.Errorf("id_token: email_verified is %q", truncate(v, 16))
			}
		}
	}
	if strings.HasPrefix(user, "system:") {
		// Kubernetes reserves system: names; a provider letting users pick one would let them act as
		// the cluster's own components in the namespace check (SubjectAccessReview).
		return "", nil, fmt.Errorf("id_token: user %q uses the reserved system: prefix", truncate(user, 64))
	}
	var groups []string
	switch g := all[groupsClaim].(type) {
	case string:
		groups = []string{g}
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok && s != "" {
				groups = append(groups, s)
			}
		}
	}
	for _, g := range groups {
		if strings.HasPrefix(g, "system:") {
			return "", nil, fmt.Errorf("id_token: group %q uses the reserved system: prefix", truncate(g, 64))
		}
		if strings.ContainsAny(g, ",\r\n") {
			// Groups travel comma-joined: "x,admins" would become two groups upstream.
			return "", nil, fmt.Errorf("id_token: group %q contains a comma or a line break", truncate(g, 64))
		}
	}
	return user, groups, nil
}

// checkEmail accepts exactly one '@' with something on both sides (a peer's domain check was
// bypassed with "a@evil.com@example.com").
func checkEmail(e string) error {
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || strings.ContainsAny(e, " \t\r\n,") {
		return fmt.Errorf("id_token: email %q is not a single address", truncate(e, 64))
	}
	return nil
}

// emailDomain is the domain of a valid address, lower case.
func emailDomain(e string) (string, bool) {
	if checkEmail(e) != nil {
		return "", false
	}
	_, d, _ := strings.Cut(e, "@")
	return strings.ToLower(d), true
}
