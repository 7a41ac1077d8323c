package authn

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/kfgate/kfgate/gateway/ir"
)

// authorize applies the checks beyond a login: allowed groups, allowed email domains, and the
// per-namespace SubjectAccessReview. rawUser is the user before the prefix.
func (a *Authorizer) authorize(ctx context.Context, r *Request, id *Identity, rawUser string, reason string, cookies []*http.Cookie) Outcome {
	z := a.cfg.Authorization
	if len(z.AllowedGroups) > 0 && !anyIn(id.Groups, z.AllowedGroups) {
		o := forbidden(reasonForbiddenGroup, "Your account is not in a group that may use this site.")
		o.Cookies = cookies
		return o
	}
	if len(z.AllowedEmailDomains) > 0 {
		d, ok := emailDomain(rawUser)
		if !ok || !anyIn([]string{d}, lower(z.AllowedEmailDomains)) {
			o := forbidden(reasonForbiddenGroup, "Your account's email domain may not use this site.")
			o.Cookies = cookies
			return o
		}
	}
	if ns := r.Context[ir.ExtNamespace]; ns != "" && a.d.Access != nil && !slices.Contains(z.ExemptNamespaces, ns) {
		ok, why, err := a.d.Access.Allowed(ctx, id.User, id.Groups, ns)
		if err != nil {
			a.d.Log.Error(err, "namespace access review", "namespace", ns)
			o := unavailable(reasonAccessError, "Your access to this namespace cannot be checked right now. Try again in a few minutes.")
			o.Cookies = cookies
			return o
		}
		if !ok {
			a.d.Log.V(1).Info("namespace access denied", "namespace", ns, "reason", why)
			o := forbidden(reasonForbiddenNS, "You have no access to the namespace "+ns+".")
			o.Cookies = cookies
			return o
		}
	}
	o := allow(id, reason)
	o.Cookies = cookies
	return o
}

func anyIn(have, want []string) bool {
	for _, h := range have {
		if slices.Contains(want, h) {
			return true
		}
	}
	return false
}

func lower(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.ToLower(s)
	}
	return out
}
