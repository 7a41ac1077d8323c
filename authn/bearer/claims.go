package bearer

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Identity is who a verified token speaks for.
type Identity struct {
	User    string   // UserPrefix + the user claim (or the TokenReview's user name)
	Groups  []string // from GroupsClaim, or the API server's groups
	Issuer  string   // the token's iss
	Subject string   // the token's sub (the user name for a TokenReview)
	Expiry  time.Time
}

// serviceAccountPrefix starts the sub of a ServiceAccount token: system:serviceaccount:<ns>:<name>.
const serviceAccountPrefix = "system:serviceaccount:"

// identity checks what go-oidc left to the caller (times with leeway, audience) and reads the user
// and groups.
func (r *remoteIssuer) identity(tok *oidc.IDToken) (Identity, error) {
	var claims map[string]json.RawMessage
	if err := tok.Claims(&claims); err != nil {
		return Identity{}, invalidf("claims: %v", err)
	}
	if err := checkTimes(tok, claims, r.now(), r.leeway); err != nil {
		return Identity{}, err
	}
	if !slices.ContainsFunc(tok.Audience, func(a string) bool { return slices.Contains(r.cfg.Audiences, a) }) {
		return Identity{}, invalidf("aud %q has none of the configured audiences", clipAll(tok.Audience))
	}
	user, err := stringClaim(claims, r.cfg.UserClaim)
	if err != nil {
		return Identity{}, err
	}
	id := Identity{Issuer: tok.Issuer, Subject: tok.Subject, Expiry: tok.Expiry}
	switch {
	case r.kube:
		ns, _, err := serviceAccount(user)
		if err != nil {
			return Identity{}, err
		}
		// What the API server gives a ServiceAccount, since its tokens carry no groups claim.
		id.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
	case r.cfg.UserClaim == "email":
		if err := checkEmail(user, claims); err != nil {
			return Identity{}, err
		}
	}
	if !r.kube && r.cfg.GroupsClaim != "" {
		if id.Groups, err = groupsClaim(claims, r.cfg.GroupsClaim); err != nil {
			return Identity{}, err
		}
	}
	id.User = r.cfg.UserPrefix + user
	if !r.kube {
		if err := checkReserved(id.User, id.Groups); err != nil {
			return Identity{}, err
		}
	}
	return id, nil
}

// reservedPrefix names Kubernetes' own users and groups (system:masters may do anything; users such
// as system:kube-scheduler hold cluster roles). An OIDC identity must not claim one, or a
// SubjectAccessReview for it would answer for that identity, so such tokens are refused as the API
// server's own JWT authenticator refuses them.
const reservedPrefix = "system:"

func checkReserved(user string, groups []string) error {
	if strings.HasPrefix(user, reservedPrefix) {
		return invalidf("user %q uses the reserved prefix %q", clip(user), reservedPrefix)
	}
	for _, g := range groups {
		if strings.HasPrefix(g, reservedPrefix) {
			return invalidf("group %q uses the reserved prefix %q", clip(g), reservedPrefix)
		}
	}
	return nil
}

// checkTimes requires exp and checks exp, nbf and iat against now, each with the leeway.
func checkTimes(tok *oidc.IDToken, claims map[string]json.RawMessage, now time.Time, leeway time.Duration) error {
	if tok.Expiry.IsZero() {
		return invalidf("exp claim is missing")
	}
	if !tok.Expiry.Add(leeway).After(now) {
		return invalidf("token expired at %s", tok.Expiry.UTC().Format(time.RFC3339))
	}
	if raw, ok := claims["nbf"]; ok {
		var nbf float64
		if err := json.Unmarshal(raw, &nbf); err != nil {
			return invalidf("nbf claim is not a number")
		}
		if t := time.Unix(int64(nbf), 0); t.Add(-leeway).After(now) {
			return invalidf("token is not valid before %s", t.UTC().Format(time.RFC3339))
		}
	}
	if !tok.IssuedAt.IsZero() && tok.IssuedAt.Add(-leeway).After(now) {
		return invalidf("token issued in the future, at %s", tok.IssuedAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// stringClaim reads a claim that must be a non-empty string without control characters (it ends up
// in request headers and logs).
func stringClaim(claims map[string]json.RawMessage, name string) (string, error) {
	var s string
	if raw, ok := claims[name]; !ok || json.Unmarshal(raw, &s) != nil || s == "" {
		return "", invalidf("claim %q missing: want a non-empty string", name)
	}
	if hasControl(s) {
		return "", invalidf("claim %q has control characters", name)
	}
	return s, nil
}

// checkEmail requires one address (exactly one '@', both sides non-empty: a peer's domain check was
// bypassed with "user@evil.example@example.com") and email_verified absent or true. Some providers
// send email_verified as the string "true".
func checkEmail(email string, claims map[string]json.RawMessage) error {
	local, domain, _ := strings.Cut(email, "@")
	if strings.Count(email, "@") != 1 || local == "" || domain == "" {
		return invalidf("email claim is not one address (it needs exactly one '@')")
	}
	raw, ok := claims["email_verified"]
	if !ok {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return invalidf("email_verified claim: %v", err)
	}
	switch v {
	case true, "true":
		return nil
	case false, "false":
		return invalidf("email_verified is false")
	}
	return invalidf("email_verified claim is neither true nor false")
}

// groupsClaim reads an array of strings or a single string; a missing claim means no groups.
func groupsClaim(claims map[string]json.RawMessage, name string) ([]string, error) {
	raw, ok := claims[name]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var groups []string
	if err := json.Unmarshal(raw, &groups); err != nil {
		var one string
		if json.Unmarshal(raw, &one) != nil {
			return nil, invalidf("claim %q: want an array of strings or a string", name)
		}
		groups = []string{one}
	}
	for _, g := range groups {
		if g == "" || hasControl(g) || strings.Contains(g, ",") {
			// Groups travel upstream comma-joined: "x,admins" would become two groups.
			return nil, invalidf("claim %q has an empty group or one with a comma or control characters", name)
		}
	}
	return groups, nil
}

// serviceAccount splits system:serviceaccount:<ns>:<name>.
func serviceAccount(user string) (ns, name string, err error) {
	rest, ok := strings.CutPrefix(user, serviceAccountPrefix)
	if ok {
		ns, name, ok = strings.Cut(rest, ":")
	}
	if !ok || ns == "" || name == "" || strings.Contains(name, ":") {
		return "", "", invalidf("sub %q is not system:serviceaccount:<namespace>:<name>", clip(user))
	}
	return ns, name, nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}

func clipAll(ss []string) []string {
	out := make([]string, 0, min(len(ss), 5))
	for i, s := range ss {
		if i == 5 {
			out = append(out, "...")
			break
		}
		out = append(out, clip(s))
	}
	return out
}
