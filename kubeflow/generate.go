package kubeflow

import (
	"bytes"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kfgate/kfgate/gateway/mapping"
)

// GenerateOptions are installation settings that the generated documents depend on.
type GenerateOptions struct {
	// ID is the installation's ambassador_id; documents carry it unless it is "" or "default".
	ID string
}

// surface is one Mapping of a model's API: requests with method to <path><selector><tail>[/] go
// upstream to target, where {m} is the model's name and \1 the version selector the path held.
type surface struct {
	name   string // the Mapping is model-<name>-<surface>: one word, so names never collide
	method string
	tail   string // regex
	target string
}

// api is a protocol's surface; selector is the regex group (\1) for versions and labels.
type api struct {
	selector string
	surfaces []surface
}

var apis = map[Protocol]api{
	ProtocolTFServing: {selector: `(/versions/[0-9]+|/labels/[A-Za-z0-9_.-]+)?`, surfaces: []surface{
		{"predict", "POST", `(?:/predict)?`, `/v1/models/{m}\1:predict`},
		{"classify", "POST", `/classify`, `/v1/models/{m}\1:classify`},
		{"regress", "POST", `/regress`, `/v1/models/{m}\1:regress`},
		{"status", "GET", ``, `/v1/models/{m}\1`},
		{"metadata", "GET", `/metadata`, `/v1/models/{m}\1/metadata`},
	}},
	ProtocolTFServingProxy: {surfaces: []surface{
		{"predict", "POST", `(?:/predict)?`, `/model/{m}:predict`},
		{"status", "GET", ``, `/`},
	}},
	ProtocolKServeV1: {surfaces: []surface{
		{"predict", "POST", `(?:/predict)?`, `/v1/models/{m}:predict`},
		{"explain", "POST", `/explain`, `/v1/models/{m}:explain`},
		{"status", "GET", ``, `/v1/models/{m}`},
	}},
	ProtocolKServeV2: {selector: `(/versions/[A-Za-z0-9_.-]+)?`, surfaces: []surface{
		{"infer", "POST", `(?:/infer)?`, `/v2/models/{m}\1/infer`},
		{"ready", "GET", `/ready`, `/v2/models/{m}\1/ready`},
		{"metadata", "GET", ``, `/v2/models/{m}\1`},
	}},
}

// mappingDoc is a generated Mapping, its fields in the order people read them.
type mappingDoc struct {
	APIVersion   string       `yaml:"apiVersion"`
	Kind         string       `yaml:"kind"`
	Name         string       `yaml:"name"`
	AmbassadorID []string     `yaml:"ambassador_id,omitempty,flow"`
	Prefix       string       `yaml:"prefix"`
	PrefixRegex  bool         `yaml:"prefix_regex"`
	Method       string       `yaml:"method"`
	RegexRewrite regexRewrite `yaml:"regex_rewrite"`
	Service      string       `yaml:"service"`
	HostRewrite  string       `yaml:"host_rewrite,omitempty"`
}

type regexRewrite struct {
	Pattern      string `yaml:"pattern"`
	Substitution string `yaml:"substitution"`
}

// Generate returns the text of the kfgate.io/generated-config annotation that serves model m at
// path (an Assignment's Path): one Mapping per call of the model's API, each matching the whole
// path with and without a trailing slash, so /models/mnist and /models/mnist/ both predict. The
// text is checked with kfgate's own decoder and regex size limit before it is returned.
func Generate(m Model, path string, opts GenerateOptions) (string, error) {
	a, err := checkGenerate(m, path)
	if err != nil {
		return "", err
	}
	base := regexp.QuoteMeta(strings.TrimSuffix(path, "/"))
	var buf bytes.Buffer
	for _, s := range a.surfaces {
		doc := mappingDoc{APIVersion: "getambassador.io/v2", Kind: mapping.KindMapping, Name: MappingPrefix + m.Name + "-" + s.name,
			Prefix: base + a.selector + s.tail + "/?", PrefixRegex: true, Method: s.method,
			RegexRewrite: regexRewrite{Pattern: "^" + base + a.selector + s.tail + "/?$", Substitution: strings.ReplaceAll(s.target, "{m}", m.Name)},
			Service:      fmt.Sprintf("%s.%s:%d", m.Service, m.Namespace, m.Port), HostRewrite: m.HostRewrite}
		if opts.ID != "" && opts.ID != "default" {
			doc.AmbassadorID = []string{opts.ID}
		}
		for _, re := range []string{doc.Prefix, doc.RegexRewrite.Pattern} {
			if err := checkRegexSize(re, path); err != nil {
				return "", err
			}
		}
		if err := writeDocument(&buf, doc.Name, doc); err != nil {
			return "", err
		}
	}
	return buf.String(), selfCheck(m, buf.String(), opts)
}

// writeDocument appends one generated document, after its "---" line, in kfgate's YAML style.
func writeDocument(buf *bytes.Buffer, name string, doc any) error {
	buf.WriteString("---\n")
	enc := yaml.NewEncoder(buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("kubeflow: encoding Mapping %s: %w", name, err)
	}
	return enc.Close() // a bytes.Buffer does not fail
}

func checkGenerate(m Model, path string) (api, error) {
	a, ok := apis[m.Protocol]
	switch {
	case !ok:
		return api{}, &FieldError{Field: "protocol", Value: string(m.Protocol), Message: "has no HTTP API kfgate routes"}
	case m.Port < 1 || m.Port > 65535:
		return api{}, &FieldError{Field: "port", Value: strconv.Itoa(int(m.Port)), Message: "must be 1-65535 (a model that is not exposed has no Mappings)"}
	case m.Service == "" || m.Namespace == "":
		return api{}, &FieldError{Field: "service", Value: m.Key(), Message: "the model needs its Service's namespace and name"}
	case !pathRE.MatchString(path):
		return api{}, &FieldError{Field: "path", Value: path, Message: `must start and end with "/" and hold only letters, digits, '.', '_', '~', '-' and "/" (use an Assignment's Path)`}
	}
	return a, checkModelName(m.Name, "model name")
}

var pathRE = regexp.MustCompile(`^/([A-Za-z0-9._~-]+/)*$`)

// checkRegexSize applies the bound kfgate's resolver applies (gateway/ir: the Module's
// regex_max_size, default 200, in compiled RE2 instructions), so that no generated Mapping is rejected.
func checkRegexSize(expr, path string) error {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return fmt.Errorf("kubeflow: generated regex %q does not parse: %w", expr, err)
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return fmt.Errorf("kubeflow: generated regex %q does not compile: %w", expr, err)
	}
	if n := len(prog.Inst); n > mapping.DefaultRegexMaxSize {
		return &FieldError{Field: "path", Value: path, Message: fmt.Sprintf(
			"too long: its Mappings' regular expressions reach program size %d, over kfgate's default regex_max_size %d; use a shorter template or model name",
			n, mapping.DefaultRegexMaxSize)}
	}
	return nil
}

// selfCheck decodes the text as the control plane will: any diagnostic is a bug here.
func selfCheck(m Model, text string, opts GenerateOptions) error {
	src := mapping.Source{Kind: "Service", Namespace: m.Namespace, Name: m.Service, Key: mapping.AnnotationGenerated}
	return checkDecodes(src, text, mapping.Options{ID: opts.ID}, len(apis[m.Protocol].surfaces))
}

// checkDecodes decodes a generated annotation of src with opts: it must give want documents and no
// diagnostic.
func checkDecodes(src mapping.Source, text string, opts mapping.Options, want int) error {
	docs, diags := mapping.Decode(src, text, opts)
	if len(diags) > 0 {
		return fmt.Errorf("kubeflow: generated config for %s/%s does not decode cleanly: %s", src.Namespace, src.Name, diags[0])
	}
	if len(docs) != want {
		return fmt.Errorf("kubeflow: generated config for %s/%s decodes to %d documents, want %d", src.Namespace, src.Name, len(docs), want)
	}
	return nil
}
