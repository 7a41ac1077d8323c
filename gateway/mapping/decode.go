package mapping

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Options are the instance settings that decoding depends on.
type Options struct {
	// ID is this installation's ambassador_id; documents owned by another id are ignored. "" is "default".
	ID string
	// Trusted, when set, says which namespaces' Service annotations may use everything (see
	// trust.go); nil trusts every namespace.
	Trusted func(namespace string) bool
	// TenantPaths are the path spaces a tenant's Mappings may match ("{namespace}" is the tenant's);
	// empty means DefaultTenantPaths.
	TenantPaths []string
}

func (o Options) id() string {
	if o.ID == "" {
		return "default"
	}
	return o.ID
}

// Decode reads the multi-document YAML text of one source (an annotation value, or a file's bare
// documents) into valid documents plus diagnostics. A bad document is dropped with its diagnostics;
// the others are still returned.
func Decode(src Source, text string, opts Options) ([]Document, []Diagnostic) {
	if src.Key != "" && len(text) > MaxAnnotationBytes {
		return nil, []Diagnostic{{Source: src, Line: src.Line, Severity: SeverityError, Reason: ReasonTooLarge,
			Message: fmt.Sprintf("annotation is %d bytes, more than the limit of %d; ignored as a whole", len(text), MaxAnnotationBytes)}}
	}
	var docs []Document
	var diags []Diagnostic
	for i, chunk := range SplitDocuments(text) {
		r := &reader{base: Diagnostic{Source: src}}
		if src.Line > 0 {
			r.lineBase = src.Line - 1 + chunk.Line - 1
		}
		if doc, ok := decodeChunk(r, chunk, opts); ok {
			doc.Source, doc.Index = src, i
			if d := checkTrust(src, &doc, opts); d != nil {
				r.diags = append(r.diags, *d)
			} else {
				docs = append(docs, doc)
			}
		}
		diags = append(diags, r.diags...)
	}
	return docs, diags
}

// Chunk is one YAML document of a multi-document text; Line is its 1-based first line.
type Chunk struct {
	Text string
	Line int
}

// SplitDocuments splits on `---` separator lines so that a syntax error in one document cannot hide
// the others (a YAML stream decoder stops at the first error).
func SplitDocuments(text string) []Chunk {
	// YAML accepts CR LF and lone CR as line breaks; so must the splitter.
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	lines := strings.SplitAfter(text, "\n")
	var out []Chunk
	begin := 0
	emit := func(end int) {
		if body := strings.Join(lines[begin:end], ""); strings.TrimSpace(stripComments(body)) != "" {
			out = append(out, Chunk{Text: body, Line: begin + 1})
		}
	}
	for i, l := range lines {
		t := strings.TrimRight(l, " \t\r\n")
		marker := t
		if len(t) > 3 && (t[3] == ' ' || t[3] == '\t') {
			marker = t[:3]
		}
		if marker != "---" && marker != "..." {
			continue
		}
		emit(i)
		begin = i + 1
		if rest := strings.TrimSpace(t[3:]); marker == "---" && rest != "" && !strings.HasPrefix(rest, "#") {
			begin = i // "--- {inline: document}": the YAML parser reads the marker itself
		}
	}
	emit(len(lines))
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			b.WriteString(l)
		}
	}
	return b.String()
}

var (
	yamlLine = regexp.MustCompile(`line (\d+)`)
	authKind = regexp.MustCompile(`(?m)^\s*kind:\s*["']?AuthService\b`)
)

func decodeChunk(r *reader, chunk Chunk, opts Options) (Document, bool) {
	dec := yaml.NewDecoder(strings.NewReader(chunk.Text))
	var root, extra yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return Document{}, false
		}
		if authKind.MatchString(chunk.Text) {
			// Unparseable, but plainly meant as an AuthService: say so, so that kfgate fails closed.
			r.base.DocKind = KindAuthService
		}
		r.syntaxError(err, chunk.Line)
		return Document{}, false
	}
	if err := dec.Decode(&extra); err == nil {
		r.report(&yaml.Node{Line: extra.Line}, SeverityError, ReasonSyntax, "",
			"a second YAML document starts here without a \"---\" line of its own; this part is rejected")
		return Document{}, false
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return Document{}, false
	}
	nameDocument(r, root.Content[0])
	top := r.object("", root.Content[0])
	if r.failed {
		return Document{}, false
	}
	doc, fields := header(r, top)
	if r.failed || fields == nil {
		return doc, false
	}
	if !owned(r, top, fields, opts) {
		return doc, false
	}
	switch doc.Kind {
	case KindMapping:
		doc.Mapping = decodeMapping(fields, doc.Namespace)
	case KindModule:
		doc.Module = decodeModule(fields, doc.Name)
	case KindAuthService:
		doc.AuthService = decodeAuthService(fields, doc.Namespace)
	case KindTLSContext:
		doc.TLSContext = decodeTLSContext(fields, nil)
	case KindRateLimitService:
		doc.RateLimitService = decodeRateLimitService(fields, doc.Namespace)
	}
	fields.finish(unsupportedFields[doc.Kind])
	if fields != top {
		top.finish(nil)
	}
	return doc, !r.failed
}

// YAMLError splits a YAML parser error into the line it names (relative to the parsed text, 0 when
// none) and the message without "yaml: " and without that line.
func YAMLError(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return 0, msg
	}
	line, _ := strconv.Atoi(m[1])
	return line, strings.Replace(msg, m[0]+": ", "", 1)
}

// syntaxError reports a YAML error at its line: the file line for files, the line within the
// annotation otherwise (the parser counts from the start of the document).
func (r *reader) syntaxError(err error, chunkLine int) {
	line, msg := YAMLError(err)
	if line > 0 && r.base.Source.File == "" {
		msg = fmt.Sprintf("line %d of the annotation: %s", chunkLine-1+line, msg)
	}
	r.report(&yaml.Node{Line: line}, SeverityError, ReasonSyntax, "", "invalid YAML: %s", msg)
}

// nameDocument sets the kind and name every diagnostic of the document carries, before anything
// about the document can fail.
func nameDocument(r *reader, top *yaml.Node) {
	if top.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		switch k, v := top.Content[i].Value, deref(top.Content[i+1]); k {
		case "kind":
			r.base.DocKind = scalarValue(v)
		case "name":
			if r.base.DocName == "" {
				r.base.DocName = scalarValue(v)
			}
		case "metadata":
			if v.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(v.Content); j += 2 {
					if v.Content[j].Value == "name" {
						r.base.DocName = scalarValue(deref(v.Content[j+1]))
					}
				}
			}
		}
	}
}

// header reads apiVersion, kind, name and namespace, and returns the object holding the kind's fields:
// the document itself, or its `spec` for CRD-shaped documents.
func header(r *reader, top *object) (Document, *object) {
	var doc Document
	if r.base.Source.File != "" {
		doc.Line = r.lineBase + top.node.Line
	}
	apiVersion, ok := top.str("apiVersion")
	switch {
	case !ok:
		r.errorf(top.node, "apiVersion", "is required (one of %s)", strings.Join(APIVersions, ", "))
	case !slices.Contains(APIVersions, apiVersion):
		r.errorf(top.value("apiVersion"), "apiVersion", "unknown apiVersion %q (accepted: %s)", apiVersion, strings.Join(APIVersions, ", "))
	}
	kind, ok := top.str("kind")
	r.base.DocKind, doc.APIVersion, doc.Kind = kind, apiVersion, kind
	switch {
	case !ok:
		r.errorf(top.node, "kind", "is required (%s)", strings.Join(Kinds, ", "))
	case !slices.Contains(Kinds, kind):
		hint := ""
		if s := closest(kind, Kinds); s != "" {
			hint = fmt.Sprintf("; did you mean %q?", s)
			if s == KindAuthService {
				r.base.DocKind = KindAuthService // a misspelt AuthService still makes kfgate fail closed
			}
		}
		r.errorf(top.value("kind"), "kind", "unknown kind %q (accepted: %s)%s", kind, strings.Join(Kinds, ", "), hint)
	}
	fields, meta := top, top
	if md := top.child("metadata"); md != nil {
		meta = md
		if fields = top.child("spec"); fields == nil {
			r.errorf(top.node, "spec", "is required when metadata is given")
			return doc, nil
		}
	}
	doc.Name, _ = meta.str("name")
	doc.Namespace, _ = meta.str("namespace")
	if doc.Name != "" {
		r.base.DocName = doc.Name
	} else if !meta.has("name") {
		r.errorf(meta.node, meta.field("name"), "is required")
	}
	if src := r.base.Source; src.Kind != "" && doc.Namespace != "" && doc.Namespace != src.Namespace {
		// Otherwise a Service could speak for another namespace: take over its Mapping names and send
		// the auth service a namespace that is not its own.
		r.errorf(meta.keyNode("namespace"), meta.field("namespace"),
			"%q differs from the Service's namespace %q: a Service's annotations configure only its own namespace", doc.Namespace, src.Namespace)
	}
	if doc.Namespace == "" {
		doc.Namespace = r.base.Source.Namespace
	}
	if doc.Namespace == "" {
		doc.Namespace = "default"
	}
	if meta != top {
		top.get("status") // written by controllers, not by the author
		for _, k := range []string{"labels", "annotations", "uid", "resourceVersion", "generation", "creationTimestamp"} {
			meta.get(k)
		}
		meta.finish(nil)
	}
	return doc, fields
}

// owned reads ambassador_id and reports (info) a document that belongs to another installation.
func owned(r *reader, top, fields *object, opts Options) bool {
	holder := fields
	if !fields.has("ambassador_id") && top.has("ambassador_id") {
		holder = top
	}
	for _, k := range []string{"metadata_labels", "generation"} {
		holder.get(k)
	}
	ids := holder.strList("ambassador_id", false)
	if r.failed {
		return false
	}
	if len(ids) == 0 {
		ids = []string{"default"}
	}
	if slices.Contains(ids, opts.id()) || slices.Contains(ids, "_automatic_") {
		return true
	}
	r.report(holder.value("ambassador_id"), SeverityInfo, ReasonIgnored, "ambassador_id",
		"belongs to ambassador_id %v, not this installation's %q; ignored", ids, opts.id())
	return false
}

func scalarValue(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}
