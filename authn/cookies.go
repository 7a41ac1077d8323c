package authn

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/kfgate/kfgate/authn/session"
)

// cookieNames are the names of kfgate's own short-lived cookies. With Secure cookies they carry
// the __Host- prefix, which browsers only accept with Secure, Path=/ and no Domain, so a sibling
// subdomain cannot plant them.
type cookieNames struct {
	flowPrefix string // + the first stateIDLen characters of the state
	loop       string
	secure     bool
}

const stateIDLen = 16

func newCookieNames(s SessionConfig) cookieNames {
	return cookieNames{flowPrefix: session.CookieName("kfgate-flow-", s.Secure), loop: session.CookieName("kfgate-logins", s.Secure), secure: s.Secure}
}

func (n cookieNames) ownsFlow(name string) bool { return strings.HasPrefix(name, n.flowPrefix) }

func (n cookieNames) flow(state string) string { return n.flowPrefix + state[:stateIDLen] }

// cookie builds one of kfgate's cookies with the attributes the session's have (session.NewCookie);
// maxAge under a second clears it.
func (n cookieNames) cookie(name, value string, maxAge time.Duration, now time.Time) *http.Cookie {
	return session.NewCookie(name, value, n.secure, maxAge, now)
}

// flowState is what a started login remembers until its callback, sealed into a cookie named
// after the state, so that parallel logins (tabs) each have their own.
type flowState struct {
	State       string    `json:"s"`
	Nonce       string    `json:"n"`
	Verifier    string    `json:"v"`
	Return      string    `json:"r"`
	RedirectURI string    `json:"u"`
	Created     time.Time `json:"t"`
}

func sealFlow(k *session.Keyring, name string, f flowState) (string, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return "", err
	}
	return k.Seal(name, b)
}

func openFlow(k *session.Keyring, name, value string) (flowState, error) {
	var f flowState
	b, err := k.Open(name, value)
	if err != nil {
		return f, err
	}
	return f, json.Unmarshal(b, &f)
}

type namedFlow struct {
	name string
	f    flowState
}

// staleFlows returns the clearing cookies for flow cookies that are expired, unreadable, or beyond
// the newest keep ones: a browser that starts logins and never finishes them must not grow its
// Cookie header without bound (431s and loops, oauth2-proxy #2163).
func (a *Authorizer) staleFlows(r *Request, keep int, now time.Time) []*http.Cookie {
	var live []namedFlow
	var clear []*http.Cookie
	for _, c := range r.Cookies {
		if !a.names.ownsFlow(c.Name) {
			continue
		}
		f, err := openFlow(a.d.Keys, c.Name, c.Value)
		if err != nil || now.Sub(f.Created) > a.cfg.Login.FlowTimeout {
			clear = append(clear, a.names.cookie(c.Name, "", 0, now))
			continue
		}
		live = append(live, namedFlow{c.Name, f})
	}
	sort.Slice(live, func(i, j int) bool { return live[i].f.Created.After(live[j].f.Created) })
	for i := keep; i < len(live); i++ {
		clear = append(clear, a.names.cookie(live[i].name, "", 0, now))
	}
	return clear
}

// loopCount is the login-loop detector's memory: logins started in the current window. It is a
// sealed cookie, so it works across replicas and needs no server state.
type loopCount struct {
	Since time.Time `json:"t"`
	N     int       `json:"n"`
}

func (a *Authorizer) loopCount(r *Request, now time.Time) loopCount {
	for _, c := range r.Cookies {
		if c.Name != a.names.loop {
			continue
		}
		var lc loopCount
		b, err := a.d.Keys.Open(c.Name, c.Value)
		if err == nil && json.Unmarshal(b, &lc) == nil && now.Sub(lc.Since) <= a.cfg.Login.LoopWindow {
			return lc
		}
	}
	return loopCount{Since: now}
}

func (a *Authorizer) loopCookie(lc loopCount, now time.Time) (*http.Cookie, error) {
	b, err := json.Marshal(lc)
	if err != nil {
		return nil, err
	}
	v, err := a.d.Keys.Seal(a.names.loop, b)
	if err != nil {
		return nil, err
	}
	return a.names.cookie(a.names.loop, v, a.cfg.Login.LoopWindow, now), nil
}
