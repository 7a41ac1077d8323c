package kubeflow

import (
	"errors"
	"strings"
	"testing"

	"github.com/kfgate/kfgate/gateway/mapping"
)

// FuzzNotebookAnnotations feeds arbitrary Notebook annotations (set by whoever may create a notebook)
// to recognition and generation: never a panic; either a FieldError naming the annotation, or a
// Mapping that kfgate's decoder accepts, whose prefix is the notebook's own path, which sets no
// header the gateway owns and whose rewrite is an absolute path.
func FuzzNotebookAnnotations(f *testing.F) {
	f.Add("/", `{"X-RStudio-Root-Path": "/notebook/ns/nb/"}`)
	f.Add("/../x", `{"kubeflow-userid": "admin"}`)
	f.Add("", `{"a": "b\r\nc: d"}`)
	f.Add("/lab?x=1", `[1,2]`)
	f.Add("/a/./b", `{"X-A": "1", "x-a": "2"}`)
	f.Fuzz(func(t *testing.T, rewrite, headers string) {
		svc := notebookService("ns", "nb")
		rec, err := RecogniseNotebook(svc, map[string]string{AnnotationNotebookRewrite: rewrite, AnnotationNotebookHeaders: headers})
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, "Notebook metadata.annotations[notebooks.kubeflow.org/") {
				t.Fatalf("error not naming the annotation: %v", err)
			}
			return
		}
		n := rec.Notebook
		if n.Rewrite != "" && (!strings.HasPrefix(n.Rewrite, "/") || strings.ContainsAny(n.Rewrite, "?#%\\\r\n")) {
			t.Fatalf("rewrite %q accepted", n.Rewrite)
		}
		for k := range n.Headers {
			if mapping.GatewayHeader(k) {
				t.Fatalf("gateway header %q accepted", k)
			}
		}
		text, err := GenerateNotebook(*n, GenerateOptions{})
		if err != nil {
			t.Fatalf("recognised but not generated: %v", err)
		}
		docs, diags := mapping.Decode(mapping.Source{Kind: "Service", Namespace: "ns", Name: "nb", Key: mapping.AnnotationGenerated}, text, mapping.Options{})
		if len(diags) > 0 || len(docs) != 1 || docs[0].Mapping == nil || docs[0].Mapping.Prefix != "/notebook/ns/nb/" {
			t.Fatalf("generated %q: %v", text, diags)
		}
	})
}
