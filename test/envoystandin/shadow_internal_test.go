package envoystandin

import "testing"

// The mirror's host takes "-shadow" before any port, as Envoy's shadowAppendedHost does.
func TestShadowHost(t *testing.T) {
	for in, want := range map[string]string{
		"h":          "h-shadow",
		"h:8080":     "h-shadow:8080",
		"[::1]:8080": "[::1]-shadow:8080",
		"[::1]":      "[::1]-shadow",
	} {
		if got := shadowHost(in); got != want {
			t.Errorf("shadowHost(%q) = %q, want %q", in, got, want)
		}
	}
}
