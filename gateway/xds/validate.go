package xds

import "fmt"

// validator is what every generated Envoy message implements (protoc-gen-validate).
type validator interface{ ValidateAll() error }

// Validate runs every resource's ValidateAll, naming the first resource that fails.
func (r *Resources) Validate() error {
	check := func(kind, name string, v validator) error {
		if err := v.ValidateAll(); err != nil {
			return fmt.Errorf("%s %q is invalid: %w", kind, name, err)
		}
		return nil
	}
	for _, l := range r.Listeners {
		if err := check("listener", l.GetName(), l); err != nil {
			return err
		}
	}
	for _, rc := range r.Routes {
		if err := check("route configuration", rc.GetName(), rc); err != nil {
			return err
		}
	}
	for _, c := range r.Clusters {
		if err := check("cluster", c.GetName(), c); err != nil {
			return err
		}
	}
	for _, e := range r.Endpoints {
		if err := check("load assignment", e.GetClusterName(), e); err != nil {
			return err
		}
	}
	return nil
}
