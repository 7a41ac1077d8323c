package authn

import (
	"net/http"

	"github.com/kfgate/kfgate/authn/session"
)

// Identity is who a request comes from, as the upstream apps will see it.
type Identity struct {
	User   string
	Groups []string
	// IDToken is forwarded when identity.forwardIDToken is set (browser sessions only).
	IDToken string
	// Via says how the identity was established: "session" or "bearer".
	Via string
}

// Kind is what Check answers.
type Kind int

// The answers Check gives.
const (
	// Allow lets the request through, with Identity (nil on skip-auth paths).
	Allow Kind = iota
	// Redirect answers 302 with Location (login start, callback, logout).
	Redirect
	// Page answers Status with an HTML page (or JSON for the dashboard's logout POST).
	Page
)

// Outcome is the decision for one request, before it becomes a CheckResponse.
type Outcome struct {
	Kind     Kind
	Identity *Identity
	Status   int
	Location string
	// Cookies to set on the browser (allowed requests too: a refreshed or touched session).
	Cookies []*http.Cookie
	// Problem is the page shown with Status (nil: a bare status).
	Problem *Problem
	// JSON, when set, is the body instead of a page.
	JSON string
	// Challenge is the WWW-Authenticate value of a 401.
	Challenge string
	// Reason labels the decision in metrics and logs (a short constant).
	Reason string
}

// Problem is an error page: a title and a sentence for the person in front of the browser.
type Problem struct {
	Title, Detail string
	// Retry, when set, is a same-host path to offer as a link.
	Retry string
}

func allow(id *Identity, reason string) Outcome {
	return Outcome{Kind: Allow, Identity: id, Reason: reason}
}

func redirect(location, reason string, cookies ...*http.Cookie) Outcome {
	return Outcome{Kind: Redirect, Status: http.StatusFound, Location: location, Cookies: cookies, Reason: reason}
}

func page(status int, reason string, p Problem, cookies ...*http.Cookie) Outcome {
	return Outcome{Kind: Page, Status: status, Problem: &p, Cookies: cookies, Reason: reason}
}

// unauthorized is the 401 API clients get instead of a login redirect.
func unauthorized(reason, detail string, cookies ...*http.Cookie) Outcome {
	o := page(http.StatusUnauthorized, reason, Problem{Title: "Authentication required", Detail: detail}, cookies...)
	o.Challenge = `Bearer realm="kfgate"`
	if reason == reasonBearerInvalid {
		o.Challenge = `Bearer realm="kfgate", error="invalid_token"`
	}
	return o
}

func unavailable(reason, detail string) Outcome {
	return page(http.StatusServiceUnavailable, reason, Problem{Title: "Sign-in is unavailable", Detail: detail})
}

func forbidden(reason, detail string) Outcome {
	return page(http.StatusForbidden, reason, Problem{Title: "Access denied", Detail: detail})
}

// Reasons: the label of kfgate_authn_checks_total{reason}.
const (
	reasonSkip            = "skip_auth"
	reasonSession         = "session"
	reasonBearer          = "bearer"
	reasonBearerInvalid   = "bearer_invalid"
	reasonNoSession       = "no_session"
	reasonLogin           = "login_redirect"
	reasonLoginLoop       = "login_loop"
	reasonLoginRateLimit  = "login_rate_limited"
	reasonIDPUnavailable  = "idp_unavailable"
	reasonStoreError      = "store_unavailable"
	reasonCallback        = "callback"
	reasonCallbackInvalid = "callback_invalid"
	reasonLogout          = "logout"
	reasonLogoutForbidden = "logout_csrf"
	reasonForbiddenGroup  = "forbidden"
	reasonForbiddenNS     = "forbidden_namespace"
	reasonAccessError     = "access_unavailable"
	reasonBadRequest      = "bad_request"
)

// sessionIdentity maps a session to the identity upstream sees.
func sessionIdentity(s *session.Session, prefix string, forward bool) *Identity {
	id := &Identity{User: prefix + s.User, Groups: s.Groups, Via: "session"}
	if forward {
		id.IDToken = s.IDToken
	}
	return id
}
