package authn

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kfgate/kfgate/authn/access"
	"github.com/kfgate/kfgate/authn/bearer"
)

// Config is kfgate authn's configuration (see docs/authn.md). Load fills it from a YAML file,
// KFGATE_AUTHN_* environment variables and flags; Validate checks every value and applies defaults.
type Config struct {
	GRPCAddress string `mapstructure:"grpcAddress"`
	HTTPAddress string `mapstructure:"httpAddress"`
	LogLevel    string `mapstructure:"logLevel"`

	OIDC          OIDCConfig     `mapstructure:"oidc"`
	Session       SessionConfig  `mapstructure:"session"`
	Identity      IdentityConfig `mapstructure:"identity"`
	SkipAuth      []SkipRule     `mapstructure:"skipAuth"`
	APIPrefixes   []string       `mapstructure:"apiPrefixes"`
	Bearer        bearer.Config  `mapstructure:"bearer"`
	Authorization AuthzConfig    `mapstructure:"authorization"`
	Logout        LogoutConfig   `mapstructure:"logout"`
	Login         LoginConfig    `mapstructure:"login"`
}

// OIDCConfig names the OpenID provider browsers log in with.
type OIDCConfig struct {
	Issuer           string `mapstructure:"issuer"`
	ClientID         string `mapstructure:"clientID"`
	ClientSecretFile string `mapstructure:"clientSecretFile"`
	CallbackPath     string `mapstructure:"callbackPath"`
	// RedirectURL, when set, is the one redirect_uri registered at the provider; otherwise it is the
	// request's scheme and host with CallbackPath.
	RedirectURL string `mapstructure:"redirectURL"`
	// LoginURL, when set, is where browsers are sent to log in instead of the discovered
	// authorization_endpoint: for a provider whose issuer is an in-cluster address no browser can
	// reach (Kubeflow's Dex), routed through the gateway. A path is taken on the request's origin.
	LoginURL string   `mapstructure:"loginURL"`
	Scopes   []string `mapstructure:"scopes"`
	// ProbeInterval is how often the provider's discovery document is fetched once discovered: a
	// provider that stops answering gets new logins a 503 page instead of a redirect to nowhere.
	ProbeInterval time.Duration `mapstructure:"probeInterval"`
	CAFile        string        `mapstructure:"caFile"`
	Timeout       time.Duration `mapstructure:"timeout"`
}

// SessionConfig chooses the session store and the cookie's properties.
type SessionConfig struct {
	Store           string        `mapstructure:"store"`
	KeyFiles        []string      `mapstructure:"keyFiles"`
	Secure          bool          `mapstructure:"secure"`
	CookieName      string        `mapstructure:"cookieName"`
	AbsoluteTimeout time.Duration `mapstructure:"absoluteTimeout"`
	IdleTimeout     time.Duration `mapstructure:"idleTimeout"`
	// RefreshBefore refreshes tokens this long before they expire.
	RefreshBefore time.Duration `mapstructure:"refreshBefore"`
	Redis         RedisConfig   `mapstructure:"redis"`
}

// RedisConfig is the Redis server of the redis session store.
type RedisConfig struct {
	Address      string `mapstructure:"address"`
	PasswordFile string `mapstructure:"passwordFile"`
	DB           int    `mapstructure:"db"`
}

// IdentityConfig says which headers carry the identity upstream and where it comes from.
type IdentityConfig struct {
	UserHeader     string `mapstructure:"userHeader"`
	UserPrefix     string `mapstructure:"userPrefix"`
	UserClaim      string `mapstructure:"userClaim"`
	GroupsHeader   string `mapstructure:"groupsHeader"`
	GroupsClaim    string `mapstructure:"groupsClaim"`
	ForwardIDToken bool   `mapstructure:"forwardIDToken"`
	// IDTokenHeader carries the forwarded ID token as "Bearer <token>".
	IDTokenHeader string `mapstructure:"idTokenHeader"`
}

// SkipRule lets matching requests through without a login. Exactly one of Exact, Prefix and Regex
// is set; Method empty matches every method. Only the normalised path is matched.
type SkipRule struct {
	Method string `mapstructure:"method"`
	Exact  string `mapstructure:"exact"`
	Prefix string `mapstructure:"prefix"`
	Regex  string `mapstructure:"regex"`
}

// AuthzConfig restricts who may pass once authenticated.
type AuthzConfig struct {
	AllowedGroups       []string      `mapstructure:"allowedGroups"`
	AllowedEmailDomains []string      `mapstructure:"allowedEmailDomains"`
	Namespace           access.Config `mapstructure:"namespaceAccess"`
	// ExemptNamespaces skip the namespace check: the namespaces of shared apps (kubeflow, auth).
	ExemptNamespaces []string `mapstructure:"exemptNamespaces"`
}

// LogoutConfig is the logout endpoint.
type LogoutConfig struct {
	Path string `mapstructure:"path"`
	// AfterLogoutURL is where the browser lands after the provider's logout (post_logout_redirect_uri);
	// default: the request's origin.
	AfterLogoutURL string `mapstructure:"afterLogoutURL"`
}

// LoginConfig bounds login attempts.
type LoginConfig struct {
	// FlowTimeout is how long a started login may take (the state cookie's lifetime).
	FlowTimeout time.Duration `mapstructure:"flowTimeout"`
	// MaxFlows caps the parallel logins of one browser (one state cookie each).
	MaxFlows int `mapstructure:"maxFlows"`
	// LoopLimit logins started by one browser within LoopWindow show an error page instead of
	// another redirect.
	LoopLimit  int           `mapstructure:"loopLimit"`
	LoopWindow time.Duration `mapstructure:"loopWindow"`
	// RatePerMinute and Burst limit login starts per client address.
	RatePerMinute float64 `mapstructure:"ratePerMinute"`
	Burst         int     `mapstructure:"burst"`
}

// Defaults returns the configuration every setting starts from.
func Defaults() Config {
	return Config{
		GRPCAddress: ":9191",
		HTTPAddress: ":9192",
		LogLevel:    "info",
		OIDC: OIDCConfig{
			CallbackPath: "/authservice/oidc/callback",
			Scopes:       []string{"openid", "profile", "email", "groups"},
			Timeout:      10 * time.Second, ProbeInterval: 5 * time.Second,
		},
		Session: SessionConfig{
			Store: "cookie", Secure: true, CookieName: "kfgate-session",
			AbsoluteTimeout: 12 * time.Hour, IdleTimeout: time.Hour, RefreshBefore: time.Minute,
		},
		Identity: IdentityConfig{
			UserHeader: "kubeflow-userid", UserClaim: "email",
			GroupsHeader: "kubeflow-groups", GroupsClaim: "groups",
			IDTokenHeader: "authorization",
		},
		SkipAuth:    []SkipRule{{Prefix: "/dex/"}},
		APIPrefixes: []string{"/api/", "/apis/", "/ml_metadata"},
		Logout:      LogoutConfig{Path: "/authservice/logout"},
		Login: LoginConfig{
			FlowTimeout: 10 * time.Minute, MaxFlows: 5,
			LoopLimit: 5, LoopWindow: 2 * time.Minute,
			RatePerMinute: 60, Burst: 20,
		},
	}
}

var headerName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// Validate checks every value, naming the setting that is wrong, and fills the defaults of the
// nested packages.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.GRPCAddress == "" || c.HTTPAddress == "" {
		add("grpcAddress and httpAddress must be set")
	}
	if u, err := url.Parse(c.OIDC.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		add("oidc.issuer %q: want an http(s) URL", c.OIDC.Issuer)
	}
	if c.OIDC.ClientID == "" {
		add("oidc.clientID is required")
	}
	if c.OIDC.ClientSecretFile == "" {
		add("oidc.clientSecretFile is required (a file holding the client secret)")
	}
	if !strings.HasPrefix(c.OIDC.CallbackPath, "/") {
		add("oidc.callbackPath %q: want an absolute path", c.OIDC.CallbackPath)
	}
	if l := c.OIDC.LoginURL; l != "" {
		u, err := url.Parse(l)
		switch {
		case err != nil || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			add("oidc.loginURL %q: want an http(s) URL or an absolute path, without query or fragment", l)
		case u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(l, "//"):
		case (u.Scheme == "https" || u.Scheme == "http") && u.Host != "":
		default:
			add("oidc.loginURL %q: want an http(s) URL or an absolute path", l)
		}
	}
	if c.OIDC.RedirectURL != "" {
		if u, err := url.Parse(c.OIDC.RedirectURL); err != nil || u.Host == "" || u.Path != c.OIDC.CallbackPath {
			add("oidc.redirectURL %q: want an absolute URL whose path is oidc.callbackPath", c.OIDC.RedirectURL)
		}
	}
	if !slices.Contains(c.OIDC.Scopes, "openid") {
		add("oidc.scopes %v: must include openid", c.OIDC.Scopes)
	}
	if c.OIDC.Timeout <= 0 {
		add("oidc.timeout must be positive")
	}
	if c.OIDC.ProbeInterval < time.Second {
		add("oidc.probeInterval %s: want at least 1s", c.OIDC.ProbeInterval)
	}
	errs = append(errs, c.Session.validate()...)
	errs = append(errs, c.Identity.validate()...)
	for i, r := range c.SkipAuth {
		if err := r.validate(); err != nil {
			add("skipAuth[%d]: %w", i, err)
		}
	}
	for i, p := range c.APIPrefixes {
		if !strings.HasPrefix(p, "/") {
			add("apiPrefixes[%d] %q: want an absolute path", i, p)
		}
	}
	if !strings.HasPrefix(c.Logout.Path, "/") || c.Logout.Path == c.OIDC.CallbackPath {
		add("logout.path %q: want an absolute path other than oidc.callbackPath", c.Logout.Path)
	}
	if c.Logout.AfterLogoutURL != "" {
		if u, err := url.Parse(c.Logout.AfterLogoutURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			add("logout.afterLogoutURL %q: want an absolute http(s) URL", c.Logout.AfterLogoutURL)
		}
	}
	errs = append(errs, c.Login.validate()...)
	for i, d := range c.Authorization.AllowedEmailDomains {
		if d == "" || strings.ContainsAny(d, "@ /") {
			add("authorization.allowedEmailDomains[%d] %q: want a bare domain like example.com", i, d)
		}
	}
	if err := c.Bearer.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Authorization.Namespace.Validate(); err != nil {
		add("authorization.namespaceAccess: %w", err)
	}
	return errors.Join(errs...)
}

func (s *SessionConfig) validate() []error {
	var errs []error
	switch s.Store {
	case "cookie":
	case "redis":
		if s.Redis.Address == "" {
			errs = append(errs, errors.New("session.redis.address is required with session.store redis"))
		}
	default:
		errs = append(errs, fmt.Errorf("session.store %q: want cookie or redis", s.Store))
	}
	if len(s.KeyFiles) == 0 {
		errs = append(errs, errors.New("session.keyFiles: at least one key file is required (32 random bytes, base64: `head -c32 /dev/urandom | base64`)"))
	}
	if !headerName.MatchString(s.CookieName) {
		errs = append(errs, fmt.Errorf("session.cookieName %q: want lower-case letters, digits and dashes", s.CookieName))
	}
	if s.AbsoluteTimeout <= 0 || s.IdleTimeout <= 0 || s.IdleTimeout > s.AbsoluteTimeout {
		errs = append(errs, fmt.Errorf("session.idleTimeout %s and session.absoluteTimeout %s: want 0 < idle <= absolute", s.IdleTimeout, s.AbsoluteTimeout))
	}
	if s.RefreshBefore < 0 {
		errs = append(errs, errors.New("session.refreshBefore must not be negative"))
	}
	return errs
}

func (id *IdentityConfig) validate() []error {
	var errs []error
	for name, h := range map[string]*string{"userHeader": &id.UserHeader, "groupsHeader": &id.GroupsHeader, "idTokenHeader": &id.IDTokenHeader} {
		*h = strings.ToLower(*h)
		if !headerName.MatchString(*h) {
			errs = append(errs, fmt.Errorf("identity.%s %q: want a header name", name, *h))
		}
	}
	if id.UserHeader == id.GroupsHeader {
		errs = append(errs, errors.New("identity.userHeader and identity.groupsHeader must differ"))
	}
	if id.UserClaim == "" {
		errs = append(errs, errors.New("identity.userClaim must not be empty"))
	}
	return errs
}

func (l *LoginConfig) validate() []error {
	var errs []error
	if l.FlowTimeout <= 0 || l.FlowTimeout > time.Hour {
		errs = append(errs, fmt.Errorf("login.flowTimeout %s: want more than 0 and at most 1h", l.FlowTimeout))
	}
	if l.MaxFlows < 1 || l.MaxFlows > 20 {
		errs = append(errs, fmt.Errorf("login.maxFlows %d: want 1-20", l.MaxFlows))
	}
	if l.LoopLimit < 2 || l.LoopWindow <= 0 {
		errs = append(errs, fmt.Errorf("login.loopLimit %d and login.loopWindow %s: want a limit of at least 2 and a positive window", l.LoopLimit, l.LoopWindow))
	}
	if l.RatePerMinute <= 0 || l.Burst < 1 {
		errs = append(errs, fmt.Errorf("login.ratePerMinute %g and login.burst %d: want both positive", l.RatePerMinute, l.Burst))
	}
	return errs
}

func (r SkipRule) validate() error {
	n := 0
	for _, s := range []string{r.Exact, r.Prefix, r.Regex} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return errors.New("set exactly one of exact, prefix and regex")
	}
	if r.Method != "" && strings.ToUpper(r.Method) != r.Method {
		return fmt.Errorf("method %q: want upper case", r.Method)
	}
	if r.Regex != "" {
		if _, err := regexp.Compile(r.Regex); err != nil {
			return fmt.Errorf("regex %q: %w", r.Regex, err)
		}
		return nil
	}
	if p := r.Exact + r.Prefix; !canonical(p) {
		return fmt.Errorf("path %q: want a normalised absolute path (no dot segments, empty segments or escapes)", p)
	}
	return nil
}
