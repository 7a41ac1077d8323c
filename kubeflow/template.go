package kubeflow

import (
	"regexp"
	"strings"
)

// Path templates: {name} is the model's name, {namespace} its namespace.
const (
	DefaultTemplate    = "/models/{name}/"
	NamespacedTemplate = "/models/{namespace}/{name}/"
)

const (
	phName      = "{name}"
	phNamespace = "{namespace}"
)

// Template is a validated path template (the zero Template is DefaultTemplate): it starts and ends with "/", and each segment between is
// literal text or exactly one placeholder, {name} (once) or {namespace} (at most once). Whole
// segments keep paths apart: no two models can get the same path unless namespace and name agree.
type Template struct{ text string }

// segmentRE: RFC 3986 unreserved characters, which reach Envoy unchanged by path normalisation.
var segmentRE = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)

// ParseTemplate validates a path template.
func ParseTemplate(s string) (Template, error) {
	bad := func(msg string) (Template, error) {
		return Template{}, &FieldError{Field: "template", Value: s, Message: msg}
	}
	if len(s) < 2 || !strings.HasPrefix(s, "/") || !strings.HasSuffix(s, "/") {
		return bad(`must start and end with "/" and hold {name}, e.g. ` + DefaultTemplate)
	}
	names, namespaces := 0, 0
	for _, seg := range strings.Split(s[1:len(s)-1], "/") {
		switch {
		case seg == phName:
			names++
		case seg == phNamespace:
			namespaces++
		case seg == "":
			return bad(`has an empty segment ("//")`)
		case seg == "." || seg == "..":
			return bad("has a dot segment (" + seg + "), which Envoy's path normalisation removes")
		case strings.ContainsAny(seg, "{}"):
			if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") && strings.Count(seg, "{") == 1 {
				return bad("unknown placeholder " + seg + ": only {name} and {namespace}")
			}
			return bad("placeholder in " + seg + ": a placeholder must be a whole segment, e.g. /models/{namespace}/{name}/")
		case !segmentRE.MatchString(seg):
			return bad("segment " + seg + " may hold only letters, digits, '.', '_', '~' and '-'")
		}
	}
	switch {
	case names == 0:
		return bad("lacks {name}")
	case names > 1:
		return bad("has {name} more than once")
	case namespaces > 1:
		return bad("has {namespace} more than once")
	}
	return Template{text: s}, nil
}

// String returns the template's text.
func (t Template) String() string {
	if t.text == "" {
		return DefaultTemplate
	}
	return t.text
}

// HasNamespace reports whether the template holds {namespace}: then model names may repeat across
// namespaces without conflict.
func (t Template) HasNamespace() bool { return strings.Contains(t.String(), phNamespace) }

// Path is the template filled in for one model; it ends with "/".
func (t Template) Path(namespace, name string) string {
	return strings.NewReplacer(phName, name, phNamespace, namespace).Replace(t.String())
}

// Namespaced is the template a conflicting model falls back to: {name} preceded by a {namespace}
// segment (the default template becomes NamespacedTemplate). A template with {namespace} is its own.
func (t Template) Namespaced() Template {
	if t.HasNamespace() {
		return t
	}
	return Template{text: strings.Replace(t.String(), "/"+phName+"/", "/"+phNamespace+"/"+phName+"/", 1)}
}

// TenantSpace is the path prefix under which the template puts every model of one namespace, with
// {namespace} left in: what a tenant's generated Mappings occupy (--tenant-paths). /models/{name}/
// gives /models/, /models/{namespace}/{name}/ gives /models/{namespace}/. Conflicting models' fallback
// (Namespaced) stays within it.
func (t Template) TenantSpace() string {
	before, _, _ := strings.Cut(t.String(), "/"+phName+"/")
	return before + "/"
}
