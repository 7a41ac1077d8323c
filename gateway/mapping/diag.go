package mapping

import (
	"fmt"
	"strings"
	"time"
)

// Severity ranks a diagnostic. An error rejects the document it is attached to; a warning or an info
// never changes what is served.
type Severity string

// Severities, from worst to mildest.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Source says where a document came from: a Service annotation or a file.
type Source struct {
	Kind      string    `json:"kind,omitempty"` // "Service" for annotations, "" for bare documents in a file
	Namespace string    `json:"namespace,omitempty"`
	Name      string    `json:"name,omitempty"`
	UID       string    `json:"uid,omitempty"`
	Key       string    `json:"key,omitempty"`  // annotation key, empty for bare documents
	File      string    `json:"file,omitempty"` // file path, empty when read from the API server
	Line      int       `json:"line,omitempty"` // 1-based line in File where the text starts; 0 when unknown
	Created   time.Time `json:"created,omitzero"`
	// Tenant is set on documents from a namespace that is not trusted (Options.Trusted).
	Tenant bool `json:"tenant,omitempty"`
}

// Object names the source object for people: "Service kubeflow/jupyter" or the file path.
func (s Source) Object() string {
	switch {
	case s.Kind != "":
		return s.Kind + " " + s.Namespace + "/" + s.Name
	case s.File != "":
		return s.File
	default:
		return s.Namespace + "/" + s.Name
	}
}

// Diagnostic is one problem found in a document, precise enough for its author to act on.
type Diagnostic struct {
	Source   Source   `json:"source"`
	Line     int      `json:"line,omitempty"` // 1-based line in Source.File, when known
	DocKind  string   `json:"docKind,omitempty"`
	DocName  string   `json:"docName,omitempty"`
	Field    string   `json:"field,omitempty"` // path inside the document, e.g. "cors.origins[1]"
	Severity Severity `json:"severity"`
	Reason   string   `json:"reason"` // UpperCamelCase, suitable as a Kubernetes Event reason
	Message  string   `json:"message"`
}

// Location is "file:line" for files and "namespace/name[key]" for annotations.
func (d Diagnostic) Location() string {
	s := d.Source
	if s.File != "" {
		if d.Line > 0 {
			return fmt.Sprintf("%s:%d", s.File, d.Line)
		}
		return s.File
	}
	loc := s.Object()
	if s.Key != "" {
		loc += " [" + s.Key + "]"
	}
	return loc
}

// String renders the diagnostic on one line, the format of `kfgate lint`.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.Location())
	if d.Source.File != "" && d.Source.Kind != "" {
		b.WriteString(": " + d.Source.Object())
	}
	if d.DocKind != "" || d.DocName != "" {
		fmt.Fprintf(&b, ": %s %q", orDash(d.DocKind), d.DocName)
	}
	if d.Field != "" {
		b.WriteString(": " + d.Field)
	}
	fmt.Fprintf(&b, ": %s: %s", d.Severity, d.Message)
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Reasons for diagnostics; they double as Kubernetes Event reasons.
const (
	ReasonInvalid     = "InvalidMapping"
	ReasonSyntax      = "InvalidYAML"
	ReasonUnknown     = "UnknownField"
	ReasonUnsupported = "Unsupported"
	ReasonIgnored     = "Ignored"
	ReasonConflict    = "MappingConflict"
	ReasonDuplicate   = "DuplicateName"
	ReasonTooLarge    = "AnnotationTooLarge"
	// ReasonDoubleSlash: the prefix lacks the trailing slash its rewrite has.
	ReasonDoubleSlash = "DoubleSlash"
	// ReasonStale: a text with errors keeps its last valid version serving.
	ReasonStale = "StaleConfig"
	// ReasonUnknownPort: the Mapping names a port its Service does not have.
	ReasonUnknownPort = "UnknownServicePort"
	// ReasonAuthUnavailable: no valid AuthService, so kfgate fails closed.
	ReasonAuthUnavailable = "AuthUnavailable"
)

// HasErrors reports whether any diagnostic is an error.
func HasErrors(ds []Diagnostic) bool {
	for _, d := range ds {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}
