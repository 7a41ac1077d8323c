package mapping

import (
	"reflect"
	"strings"
	"testing"
)

var testSource = Source{Kind: "Service", Namespace: "ns", Name: "svc", Key: AnnotationAmbassador}

// mappingText is a valid Mapping named name with prefix /name/, plus extra lines.
func mappingText(name, extra string) string {
	return "apiVersion: getambassador.io/v2\nkind: Mapping\nname: " + name + "\nprefix: /" + name + "/\nservice: " + name + "\n" + extra
}

func TestSplitDocuments(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want []Chunk
	}{
		{"empty", "", nil},
		{"only whitespace", "\n  \n\t\n", nil},
		{"only comments and markers", "# header\n---\n# nothing here\n---\n\n...\n", nil},
		{"single document", "a: 1\n", []Chunk{{"a: 1\n", 1}}},
		{"no trailing newline", "a: 1", []Chunk{{"a: 1", 1}}},
		{"leading marker", "---\na: 1\n", []Chunk{{"a: 1\n", 2}}},
		{"two documents", "a: 1\n---\nb: 2\n", []Chunk{{"a: 1\n", 1}, {"b: 2\n", 3}}},
		{"empty documents skipped", "---\n---\na: 1\n---\n---\nb: 2\n---\n", []Chunk{{"a: 1\n", 3}, {"b: 2\n", 6}}},
		{"marker with comment", "--- # first\na: 1\n--- # second\nb: 2", []Chunk{{"a: 1\n", 2}, {"b: 2", 4}}},
		{"marker with tab comment", "---\t# first\na: 1\n", []Chunk{{"a: 1\n", 2}}},
		{"marker with trailing blanks", "---  \t\na: 1\n", []Chunk{{"a: 1\n", 2}}},
		{"comment-only document before a real one", "# a comment\n---\na: 1\n", []Chunk{{"a: 1\n", 3}}},
		{"comment lines kept inside a document", "---\n# about a\na: 1\n", []Chunk{{"# about a\na: 1\n", 2}}},
		{"inline document", "--- {a: b}\n--- {c: d}\n", []Chunk{{"--- {a: b}\n", 1}, {"--- {c: d}\n", 2}}},
		{"inline document after a tab", "---\t{a: b}\n", []Chunk{{"---\t{a: b}\n", 1}}},
		{"inline block scalar", "--- |\n  text\n---\nb: 2\n", []Chunk{{"--- |\n  text\n", 1}, {"b: 2\n", 4}}},
		{"end marker", "a: 1\n...\nb: 2\n", []Chunk{{"a: 1\n", 1}, {"b: 2\n", 3}}},
		{"end marker then start marker", "a: 1\n...\n---\nb: 2\n...\n", []Chunk{{"a: 1\n", 1}, {"b: 2\n", 4}}},
		{"CRLF line ends are normalised", "a: 1\r\n---\r\nb: 2\r\n", []Chunk{{"a: 1\n", 1}, {"b: 2\n", 3}}},
		{"lone CR line ends are normalised", "a: 1\r---\rb: 2\r", []Chunk{{"a: 1\n", 1}, {"b: 2\n", 3}}},
		{"end marker with a comment separates", "a: 1\n... # end\nb: 2\n", []Chunk{{"a: 1\n", 1}, {"b: 2\n", 3}}},
		{"indented marker is content", "a: |\n  ---\n  x\n", []Chunk{{"a: |\n  ---\n  x\n", 1}}},
		{"four dashes are content", "----\na: 1\n", []Chunk{{"----\na: 1\n", 1}}},
		{"dashes glued to text are content", "---a\n", []Chunk{{"---a\n", 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SplitDocuments(tc.text)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("SplitDocuments(%q)\n got %+v\nwant %+v", tc.text, got, tc.want)
			}
			// Splitting a chunk again yields the chunk itself: decoding chunk by chunk is stable.
			for _, c := range got {
				if again := SplitDocuments(c.Text); len(again) != 1 || again[0].Text != c.Text || again[0].Line != 1 {
					t.Errorf("SplitDocuments(%q) = %+v, want the chunk itself", c.Text, again)
				}
			}
		})
	}
}

func TestDecodeDocumentMarkers(t *testing.T) {
	inline := "--- {apiVersion: getambassador.io/v2, kind: Mapping, name: inline, prefix: /inline/, service: inline}\n"
	for _, tc := range []struct {
		name      string
		text      string
		wantNames []string
		wantIdx   []int
	}{
		{"inline documents", inline + "--- {apiVersion: getambassador.io/v2, kind: Mapping, name: b, prefix: /b/, service: b}\n", []string{"inline", "b"}, []int{0, 1}},
		{"marker with comment", "--- # the first one\n" + mappingText("a", "") + "--- # the second one\n" + mappingText("b", ""), []string{"a", "b"}, []int{0, 1}},
		{"end markers", mappingText("a", "") + "...\n" + mappingText("b", "") + "...\n", []string{"a", "b"}, []int{0, 1}},
		{"empty documents do not count", "---\n---\n" + mappingText("a", "") + "---\n# nothing\n---\n" + mappingText("b", ""), []string{"a", "b"}, []int{0, 1}},
		{"broken document keeps its index", mappingText("a", "") + "---\nprefix: [\n---\n" + mappingText("c", ""), []string{"a", "c"}, []int{0, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, diags := Decode(testSource, tc.text, Options{})
			var names []string
			var idx []int
			for _, d := range docs {
				names = append(names, d.Name)
				idx = append(idx, d.Index)
			}
			if !reflect.DeepEqual(names, tc.wantNames) || !reflect.DeepEqual(idx, tc.wantIdx) {
				t.Errorf("got names %v indexes %v, want %v %v; diagnostics %v", names, idx, tc.wantNames, tc.wantIdx, diags)
			}
			for _, d := range diags {
				if d.Severity != SeverityError || d.Reason != ReasonSyntax {
					t.Errorf("unexpected diagnostic %s", d)
				}
			}
		})
	}
}

func TestDecodeIsolatesBadDocuments(t *testing.T) {
	text := mappingText("a", "") + "---\n" + mappingText("b", "weight: 500\n") + "---\n" + mappingText("c", "")
	docs, diags := Decode(testSource, text, Options{})
	if len(docs) != 2 || docs[0].Name != "a" || docs[1].Name != "c" {
		t.Fatalf("got %d documents %+v, want a and c", len(docs), docs)
	}
	if len(diags) != 1 || diags[0].DocName != "b" || diags[0].Field != "weight" || diags[0].DocKind != KindMapping {
		t.Fatalf("diagnostics = %v, want one on b's weight", diags)
	}
	for _, d := range docs {
		if d.Source != testSource || d.Namespace != "ns" || d.APIVersion != "getambassador.io/v2" || d.Mapping == nil || d.Module != nil || d.AuthService != nil {
			t.Errorf("document %+v", d)
		}
	}
}

func TestDiagnosticLines(t *testing.T) {
	text := strings.Join([]string{
		"---",                             // 1
		"apiVersion: getambassador.io/v2", // 2
		"kind: Mapping",                   // 3
		"name: a",                         // 4
		"prefix: /a/",                     // 5
		"service: a",                      // 6
		"timout_ms: 5",                    // 7
		"---",                             // 8
		"# b is broken",                   // 9
		"apiVersion: getambassador.io/v2", // 10
		"kind: Mapping",                   // 11
		"name: b",                         // 12
		"prefix: nope",                    // 13
		"service: b",                      // 14
		"---",                             // 15
		"apiVersion: getambassador.io/v2", // 16
		"kind: Mapping",                   // 17
		"name: c",                         // 18
		"prefix: /c/",                     // 19
		"service: c",                      // 20
		"cors:",                           // 21
		"\torigins: '*'",                  // 22: a tab, a scanner error
		"",
	}, "\n")
	file := Source{Kind: "Service", Namespace: "ns", Name: "svc", Key: AnnotationAmbassador, File: "svc.yaml", Line: 10}
	docs, diags := Decode(file, text, Options{})
	if len(docs) != 1 || docs[0].Name != "a" {
		t.Fatalf("documents %+v, want only a", docs)
	}
	if want := 10 + 2 - 1; docs[0].Line != want {
		t.Errorf("document a is on line %d, want %d", docs[0].Line, want)
	}
	want := map[string]int{"timout_ms": 10 + 7 - 1, "prefix": 10 + 13 - 1, "": 10 + 22 - 1}
	if len(diags) != len(want) {
		t.Fatalf("diagnostics %v, want %d", diags, len(want))
	}
	for _, d := range diags {
		line, ok := want[d.Field]
		if !ok || d.Line != line {
			t.Errorf("%s: line %d, want %d", d, d.Line, line)
		}
		if d.Field == "" && strings.Contains(d.Message, "line ") {
			t.Errorf("%s: a file diagnostic carries its line in Line, not in the message", d)
		}
		if !strings.HasPrefix(d.String(), "svc.yaml:") {
			t.Errorf("String() = %q, want it to start with the file", d.String())
		}
	}

	// From the API server there is no file: no line, and the location names the annotation.
	_, diags = Decode(testSource, text, Options{})
	for _, d := range diags {
		if d.Line != 0 {
			t.Errorf("%s: line %d, want 0 without a file", d, d.Line)
		}
		if !strings.HasPrefix(d.String(), "Service ns/svc [getambassador.io/config]: ") {
			t.Errorf("String() = %q", d.String())
		}
	}
}

func TestDecodeTooLarge(t *testing.T) {
	big := mappingText("a", "") + "# " + strings.Repeat("x", MaxAnnotationBytes) + "\n"
	docs, diags := Decode(testSource, big, Options{})
	if len(docs) != 0 || len(diags) != 1 || diags[0].Reason != ReasonTooLarge || diags[0].Severity != SeverityError {
		t.Fatalf("got %d documents, diagnostics %v; want the annotation rejected", len(docs), diags)
	}
	// The limit is for annotations: a bare document in a file has no key and no such limit.
	bare := Source{File: "big.yaml", Line: 1}
	if docs, diags := Decode(bare, big, Options{}); len(docs) != 1 || len(diags) != 0 {
		t.Fatalf("bare document: got %d documents, diagnostics %v", len(docs), diags)
	}
	// Exactly at the limit is accepted.
	exact := mappingText("a", "")
	exact += "#" + strings.Repeat("x", MaxAnnotationBytes-len(exact)-2) + "\n"
	if len(exact) != MaxAnnotationBytes {
		t.Fatalf("test text is %d bytes", len(exact))
	}
	if docs, diags := Decode(testSource, exact, Options{}); len(docs) != 1 || len(diags) != 0 {
		t.Fatalf("at the limit: got %d documents, diagnostics %v", len(docs), diags)
	}
}

func TestDidYouMean(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		field string
		want  string // the suggestion, "" for none
	}{
		{"top-level typo", mappingText("a", "timout_ms: 10\n"), "timout_ms", "timeout_ms"},
		{"missing letter", mappingText("a", "rewite: /x/\n"), "rewite", "rewrite"},
		{"missing plural", mappingText("a", "add_request_header: {x-a: b}\n"), "add_request_header", "add_request_headers"},
		{"capitalised", mappingText("a", "Weight: 10\n"), "Weight", "weight"},
		{"transposed letters", mappingText("a", "bypass_atuh: true\n"), "bypass_atuh", "bypass_auth"},
		{"nested in cors", mappingText("a", "cors:\n  orgins: '*'\n"), "cors.orgins", "origins"},
		{"nested in retry_policy", mappingText("a", "retry_policy:\n  retry_on: 5xx\n  num_retrie: 3\n"), "retry_policy.num_retrie", "num_retries"},
		{"nested in load_balancer", mappingText("a", "load_balancer:\n  policy: ring_hash\n  source_ip: true\n  polcy: x\n"), "load_balancer.polcy", "policy"},
		{"in a Module", "apiVersion: getambassador.io/v2\nkind: Module\nname: ambassador\nconfig:\n  use_remote_adress: false\n", "config.use_remote_adress", "use_remote_address"},
		{"beside a Module's config", "apiVersion: getambassador.io/v2\nkind: Module\nname: ambassador\nconfig: {}\nconfg: {}\n", "confg", "config"},
		{"in an AuthService", "apiVersion: getambassador.io/v2\nkind: AuthService\nname: auth\nauth_service: auth\nproto: grpc\ntimeoutms: 100\n", "timeoutms", "timeout_ms"},
		{"in CRD spec", "apiVersion: getambassador.io/v2\nkind: Mapping\nmetadata:\n  name: a\nspec:\n  prefix: /a/\n  service: a\n  servise: b\n", "spec.servise", "service"},
		{"in CRD metadata", "apiVersion: getambassador.io/v2\nkind: Mapping\nmetadata:\n  name: a\n  namspace: x\nspec:\n  prefix: /a/\n  service: a\n", "metadata.namspace", "namespace"},
		{"too far for a suggestion", mappingText("a", "frobnicate: 1\n"), "frobnicate", ""},
		{"three edits is too far", mappingText("a", "timeout: 1\n"), "timeout", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, diags := Decode(testSource, tc.text, Options{})
			if len(docs) != 1 {
				t.Fatalf("a document with only an unknown field must still be served; diagnostics %v", diags)
			}
			if len(diags) != 1 {
				t.Fatalf("diagnostics %v, want exactly one", diags)
			}
			d := diags[0]
			if d.Field != tc.field || d.Severity != SeverityWarning || d.Reason != ReasonUnknown {
				t.Fatalf("got %s (field %q, reason %s)", d, d.Field, d.Reason)
			}
			want := "unknown field; ignored"
			if tc.want != "" {
				want += ` (did you mean "` + tc.want + `"?)`
			}
			if d.Message != want {
				t.Errorf("message %q, want %q", d.Message, want)
			}
		})
	}
}

func TestUnsupportedFields(t *testing.T) {
	docs, diags := Decode(testSource, mappingText("a", "rate_limits: [{descriptor: x}]\noutlier_detection: {}\n"), Options{})
	if len(docs) != 1 {
		t.Fatalf("unsupported fields must only warn; diagnostics %v", diags)
	}
	got := map[string]string{}
	for _, d := range diags {
		if d.Severity != SeverityWarning || d.Reason != ReasonUnsupported {
			t.Errorf("unexpected %s", d)
		}
		got[d.Field] = d.Message
	}
	if !strings.Contains(got["rate_limits"], "write labels instead") || !strings.Contains(got["outlier_detection"], "not implemented") {
		t.Errorf("messages %v", got)
	}
}

func TestClosest(t *testing.T) {
	known := []string{"host", "hosts", "prefix", "service"}
	for k, want := range map[string]string{
		"hots":    "hosts", // one insertion; "host" is two substitutions away
		"hostx":   "host",  // one edit from both "host" and "hosts": the first known key wins ties
		"hostss":  "hosts",
		"prefixx": "prefix",
		"srvice":  "service",
		"xyz":     "",
		"":        "",
	} {
		if got := closest(k, known); got != want {
			t.Errorf("closest(%q) = %q, want %q", k, got, want)
		}
	}
	for _, tc := range []struct {
		a, b      string
		limit, ds int
	}{
		{"kitten", "sitting", 10, 3},
		{"", "abc", 10, 3},
		{"abc", "abc", 3, 0},
		{"abc", "abcdef", 3, 3}, // gives up at the limit
		{"flaw", "lawn", 10, 2},
	} {
		if got := editDistance(tc.a, tc.b, tc.limit); got != tc.ds {
			t.Errorf("editDistance(%q, %q, %d) = %d, want %d", tc.a, tc.b, tc.limit, got, tc.ds)
		}
	}
}

func TestAmbassadorID(t *testing.T) {
	for _, tc := range []struct {
		name   string
		line   string // ambassador_id line(s) appended to the Mapping; "" for none
		id     string
		served bool
	}{
		{"absent, default installation", "", "", true},
		{"absent, explicit default installation", "", "default", true},
		{"absent, named installation", "", "prod", false},
		{"string default", "ambassador_id: default\n", "", true},
		{"string match", "ambassador_id: prod\n", "prod", true},
		{"string mismatch", "ambassador_id: prod\n", "", false},
		{"string is not split on commas", "ambassador_id: prod,default\n", "", false},
		{"list match", "ambassador_id: [staging, prod]\n", "prod", true},
		{"block list match", "ambassador_id:\n- staging\n- prod\n", "prod", true},
		{"list mismatch", "ambassador_id: [staging, canary]\n", "prod", false},
		{"list with default", "ambassador_id: [default, prod]\n", "", true},
		{"automatic string", "ambassador_id: _automatic_\n", "prod", true},
		{"automatic in list", "ambassador_id: [x, _automatic_]\n", "", true},
		{"null means absent", "ambassador_id: ~\n", "", true},
		{"case matters", "ambassador_id: Prod\n", "prod", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, diags := Decode(testSource, mappingText("a", tc.line), Options{ID: tc.id})
			if tc.served {
				if len(docs) != 1 || len(diags) != 0 {
					t.Fatalf("want served silently; got %d documents, diagnostics %v", len(docs), diags)
				}
				return
			}
			if len(docs) != 0 || len(diags) != 1 {
				t.Fatalf("want ignored with one info; got %d documents, diagnostics %v", len(docs), diags)
			}
			id := tc.id
			if id == "" {
				id = "default"
			}
			d := diags[0]
			if d.Severity != SeverityInfo || d.Reason != ReasonIgnored || d.Field != "ambassador_id" ||
				!strings.Contains(d.Message, `not this installation's "`+id+`"`) || d.DocName != "a" {
				t.Errorf("got %s", d)
			}
		})
	}

	// CRD-shaped documents: ambassador_id in spec, or (leniently) at the top.
	crd := func(top, spec string) string {
		return "apiVersion: getambassador.io/v2\nkind: Mapping\nmetadata:\n  name: a\n" + top + "spec:\n  prefix: /a/\n  service: a\n" + spec
	}
	for _, tc := range []struct {
		name, text string
		served     bool
	}{
		{"spec match", crd("", "  ambassador_id: [prod]\n"), true},
		{"spec mismatch", crd("", "  ambassador_id: [other]\n"), false},
		{"top match", crd("ambassador_id: prod\n", ""), true},
		{"top mismatch", crd("ambassador_id: other\n", ""), false},
		{"spec wins over top", crd("ambassador_id: other\n", "  ambassador_id: prod\n"), true},
	} {
		t.Run("CRD "+tc.name, func(t *testing.T) {
			docs, diags := Decode(testSource, tc.text, Options{ID: "prod"})
			if got := len(docs) == 1; got != tc.served {
				t.Errorf("served = %v, want %v; diagnostics %v", got, tc.served, diags)
			}
			if HasErrors(diags) {
				t.Errorf("errors: %v", diags)
			}
		})
	}

	// A wrong type is an error, not a silent mismatch.
	docs, diags := Decode(testSource, mappingText("a", "ambassador_id: {prod: true}\n"), Options{ID: "prod"})
	if len(docs) != 0 || len(diags) != 1 || diags[0].Severity != SeverityError || diags[0].Field != "ambassador_id" {
		t.Errorf("got %d documents, diagnostics %v", len(docs), diags)
	}
}

func TestDecodeNamespaceAndDefaults(t *testing.T) {
	// In an annotation a document may not name another namespace than its Service's.
	_, diags := Decode(testSource, mappingText("x", "namespace: kubeflow\n"), Options{})
	if len(diags) != 1 || diags[0].Field != "namespace" || !strings.Contains(diags[0].Message, "configure only its own namespace") {
		t.Errorf("cross-namespace annotation: %v", diags)
	}
	// Bare documents in files choose their namespace.
	fileSource := Source{File: "kfgate.yaml", Line: 1, Namespace: "ns"}
	docs, diags := Decode(fileSource, mappingText("a", "")+"---\n"+mappingText("b", "namespace: other\nrewrite: ''\n")+
		"---\napiVersion: getambassador.io/v2\nkind: Mapping\nmetadata:\n  name: c\n  namespace: crd\nspec:\n  prefix: /c/\n  service: c.elsewhere:8080\n",
		Options{})
	if len(diags) != 0 || len(docs) != 3 {
		t.Fatalf("got %d documents, diagnostics %v", len(docs), diags)
	}
	a, b, c := docs[0], docs[1], docs[2]
	if a.Namespace != "ns" || b.Namespace != "other" || c.Namespace != "crd" {
		t.Errorf("namespaces %q %q %q", a.Namespace, b.Namespace, c.Namespace)
	}
	m := a.Mapping
	if !m.CaseSensitive || m.ConnectTimeoutMs != DefaultConnectTimeoutMs || m.Rewrite == nil || *m.Rewrite != "/" || m.TimeoutMs != nil {
		t.Errorf("defaults: %+v", m)
	}
	if m.Service.Namespace != "ns" || m.Service.Name != "a" || !m.Service.Qualified {
		t.Errorf("service of a: %+v", m.Service)
	}
	if b.Mapping.Rewrite != nil {
		t.Errorf("rewrite '' must disable rewriting, got %q", *b.Mapping.Rewrite)
	}
	if b.Mapping.Service.Namespace != "other" {
		t.Errorf("a bare service name takes the document's namespace: %+v", b.Mapping.Service)
	}
	if s := c.Mapping.Service; s.Name != "c" || s.Namespace != "elsewhere" || s.Port != 8080 {
		t.Errorf("service of c: %+v", s)
	}

	// Without a namespace anywhere (a bare file document), "default".
	docs, _ = Decode(Source{File: "f.yaml", Line: 1}, mappingText("a", ""), Options{})
	if len(docs) != 1 || docs[0].Namespace != "default" {
		t.Errorf("documents %+v", docs)
	}
}

func TestDecodeAnchorsAndAliases(t *testing.T) {
	// Aliases used as field values resolve to the anchored node.
	text := "apiVersion: getambassador.io/v2\nkind: Mapping\nname: a\nprefix: &p /a/\nservice: a\nrewrite: *p\n" +
		"cors: &c {origins: '*'}\nretry_policy: &r\n  retry_on: 5xx\n"
	docs, diags := Decode(testSource, text, Options{})
	if len(docs) != 1 || len(diags) != 0 {
		t.Fatalf("got %d documents, diagnostics %v", len(docs), diags)
	}
	if m := docs[0].Mapping; *m.Rewrite != "/a/" || m.CORS == nil || m.RetryPolicy == nil || m.RetryPolicy.RetryOn != "5xx" {
		t.Errorf("mapping %+v", m)
	}
	// An alias of a mapping where a string is expected is reported, not crashed on.
	text = "apiVersion: getambassador.io/v2\nkind: Mapping\nname: a\nprefix: /a/\nservice: a\ncors: &c {origins: '*'}\nhost_rewrite: *c\n"
	docs, diags = Decode(testSource, text, Options{})
	if len(docs) != 0 || len(diags) != 1 || diags[0].Field != "host_rewrite" || !strings.Contains(diags[0].Message, "got a mapping") {
		t.Errorf("got %d documents, diagnostics %v", len(docs), diags)
	}
}

func TestDecodeSyntaxErrorDiagnostic(t *testing.T) {
	docs, diags := Decode(testSource, mappingText("a", "")+"---\nkey: [unclosed\n", Options{})
	if len(docs) != 1 {
		t.Fatalf("documents %+v", docs)
	}
	if len(diags) != 1 || diags[0].Reason != ReasonSyntax || diags[0].Severity != SeverityError ||
		!strings.HasPrefix(diags[0].Message, "invalid YAML: ") || strings.Contains(diags[0].Message, "yaml: ") {
		t.Errorf("diagnostics %v", diags)
	}
}

func TestDiagnosticLocation(t *testing.T) {
	for _, tc := range []struct {
		d    Diagnostic
		want string
	}{
		{Diagnostic{Source: testSource, DocKind: KindMapping, DocName: "a", Field: "prefix", Severity: SeverityError, Message: "bad"},
			`Service ns/svc [getambassador.io/config]: Mapping "a": prefix: error: bad`},
		{Diagnostic{Source: Source{File: "x.yaml", Line: 3}, Line: 7, DocName: "a", Severity: SeverityWarning, Message: "m"},
			`x.yaml:7: - "a": warning: m`},
		{Diagnostic{Source: Source{File: "x.yaml"}, Severity: SeverityInfo, Message: "m"}, `x.yaml: info: m`},
		{Diagnostic{Source: Source{Kind: "Service", Namespace: "n", Name: "s", Key: AnnotationKfgate, File: "f.yaml"}, Line: 2, Severity: SeverityError, Message: "m"},
			`f.yaml:2: Service n/s: error: m`},
		{Diagnostic{Source: Source{Namespace: "n", Name: "s"}, Severity: SeverityError, Message: "m"}, `n/s: error: m`},
	} {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
	if HasErrors([]Diagnostic{{Severity: SeverityWarning}, {Severity: SeverityInfo}}) || !HasErrors([]Diagnostic{{Severity: SeverityInfo}, {Severity: SeverityError}}) {
		t.Error("HasErrors")
	}
}

// TestDecoderEdgeCases pins fixes found by fuzzing: no document may vanish silently, aliases resolve
// everywhere, and null is not a header value.
func TestDecoderEdgeCases(t *testing.T) {
	src := Source{Kind: "Service", Namespace: "ns", Name: "svc", Key: AnnotationAmbassador}
	mapping := func(name string) string {
		return "apiVersion: ambassador/v0\nkind: Mapping\nname: " + name + "\nprefix: /" + name + "/\nservice: app\n"
	}
	t.Run("end marker with a comment keeps the next document", func(t *testing.T) {
		docs, diags := Decode(src, mapping("a")+"... # end of a\n"+mapping("b"), Options{})
		if len(docs) != 2 || len(diags) != 0 {
			t.Fatalf("got %d documents, diagnostics %v", len(docs), diags)
		}
	})
	t.Run("lone CR line ends", func(t *testing.T) {
		text := strings.ReplaceAll(mapping("a")+"---\n"+mapping("b"), "\n", "\r")
		if docs, diags := Decode(src, text, Options{}); len(docs) != 2 || len(diags) != 0 {
			t.Fatalf("got %d documents, diagnostics %v", len(docs), diags)
		}
	})
	t.Run("aliases in maps and lists", func(t *testing.T) {
		text := "apiVersion: ambassador/v0\nkind: Mapping\nname: al\nprefix: &p /al/\nservice: app\nadd_request_headers:\n  x-prefix: *p\nremove_request_headers: [&h x-h, *h]\n"
		docs, diags := Decode(src, text, Options{})
		if len(docs) != 1 || len(diags) != 0 {
			t.Fatalf("got %d documents, diagnostics %v", len(docs), diags)
		}
		m := docs[0].Mapping
		if m.AddRequestHeaders[0].Value != "/al/" || len(m.RemoveRequestHeaders) != 2 || m.RemoveRequestHeaders[1] != "x-h" {
			t.Fatalf("aliases not resolved: %+v %+v", m.AddRequestHeaders, m.RemoveRequestHeaders)
		}
	})
	t.Run("null header value", func(t *testing.T) {
		_, diags := Decode(src, mapping("a")+"add_request_headers:\n  x-a: ~\n", Options{})
		if len(diags) != 1 || diags[0].Field != "add_request_headers.x-a" || !strings.Contains(diags[0].Message, "got null") {
			t.Fatalf("diagnostics %v", diags)
		}
	})
	t.Run("a wrong type is reported once", func(t *testing.T) {
		_, diags := Decode(src, "apiVersion: ambassador/v0\nkind: Mapping\nname: a\nprefix: [x]\nservice: app\n", Options{})
		if len(diags) != 1 || diags[0].Field != "prefix" {
			t.Fatalf("want exactly one diagnostic on prefix, got %v", diags)
		}
	})
	t.Run("duplicate keys name the document", func(t *testing.T) {
		_, diags := Decode(src, mapping("dup")+"prefix: /again/\n", Options{})
		if len(diags) != 1 || diags[0].DocName != "dup" || diags[0].DocKind != KindMapping {
			t.Fatalf("diagnostics %v", diags)
		}
	})
}
