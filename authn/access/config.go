package access

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults that Validate fills in.
const (
	DefaultVerb     = "get"
	DefaultGroup    = "kubeflow.org"
	DefaultResource = "notebooks"
	DefaultCacheTTL = 30 * time.Second
)

// Config is the per-namespace check: whether the user may <verb> <group>/<resource> in the
// namespace.
type Config struct {
	Enabled  bool   `mapstructure:"enabled"`
	Verb     string `mapstructure:"verb"`     // default "get"
	Group    string `mapstructure:"group"`    // API group; default "kubeflow.org"
	Resource string `mapstructure:"resource"` // default "notebooks"
	// CacheTTL is how long an answer (allowed or denied) is reused; default 30s. A RoleBinding
	// removed takes up to this long to take effect.
	CacheTTL time.Duration `mapstructure:"cacheTTL"`
}

// Validate checks the configuration and fills in the defaults for empty fields. Its messages name
// the field without a prefix (the caller knows where the section sits).
func (c *Config) Validate() error {
	if c.Verb == "" {
		c.Verb = DefaultVerb
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.Resource == "" {
		c.Resource = DefaultResource
	}
	var errs []error
	if strings.ContainsAny(c.Verb, " /") {
		errs = append(errs, fmt.Errorf("verb %q: want one verb such as get or list", c.Verb))
	}
	if strings.ContainsAny(c.Group, " /") {
		errs = append(errs, fmt.Errorf("group %q: want an API group such as kubeflow.org", c.Group))
	}
	if strings.ContainsAny(c.Resource, " /.") {
		errs = append(errs, fmt.Errorf("resource %q: want a plural resource name such as notebooks (the group goes in group)", c.Resource))
	}
	switch {
	case c.CacheTTL < 0:
		errs = append(errs, fmt.Errorf("cacheTTL: must not be negative, got %s", c.CacheTTL))
	case c.CacheTTL == 0:
		c.CacheTTL = DefaultCacheTTL
	}
	return errors.Join(errs...)
}
