package kube

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kfgate/kfgate/gateway/mapping"
)

// FuzzWarningNote: whatever a diagnostic says (its message quotes the author's YAML), the Event note
// stays within the events.k8s.io limit and stays valid UTF-8 when the input is.
func FuzzWarningNote(f *testing.F) {
	f.Add("want an integer", "timeout_ms", uint8(1))
	f.Add(strings.Repeat("é", 600), "cors.origins[1]", uint8(3))
	f.Add(strings.Repeat("x", 1022)+"日本", "", uint8(1))
	f.Add("\xff\xfe", "a\x00b", uint8(2))
	f.Fuzz(func(t *testing.T, msg, field string, n uint8) {
		ds := make([]mapping.Diagnostic, 1+n%8)
		for i := range ds {
			ds[i] = diag("ns", "svc", mapping.SeverityError, "InvalidMapping", field, msg)
		}
		e := warningEvent(ds)
		if len(e.note) > maxNote {
			t.Fatalf("note of %d bytes", len(e.note))
		}
		if utf8.ValidString(msg) && utf8.ValidString(field) && !utf8.ValidString(e.note) {
			t.Fatalf("valid input, invalid note %q", e.note)
		}
		if e.reason != "InvalidMapping" || !e.warning {
			t.Fatalf("event %+v", e)
		}
	})
}
