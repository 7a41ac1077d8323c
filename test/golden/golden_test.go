package golden

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCheckAndStaleFiles(t *testing.T) {
	dir := t.TempDir()
	a, stale := filepath.Join(dir, "a.out"), filepath.Join(dir, "stale.out")
	for _, f := range []string{a, stale} {
		if err := os.WriteFile(f, []byte("one\ntwo\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := Check(a, []byte("one\ntwo\n")); err != nil {
		t.Errorf("equal content: %v", err)
	}
	if err := Check(a, []byte("one\nTWO\n")); err == nil || !strings.Contains(err.Error(), "line 2:\n  want: two\n  got:  TWO") {
		t.Errorf("different content: %v", err)
	}
	if err := Check(filepath.Join(dir, "missing.out"), nil); err == nil {
		t.Error("a missing file passed")
	}
	got, err := StaleFiles(filepath.Join(dir, "*.out"), map[string]bool{a: true})
	if err != nil || !slices.Equal(got, []string{stale}) {
		t.Errorf("stale %v, %v; want [%s]", got, err, stale)
	}
}

func TestCasesUpdateRewritesAndDeletes(t *testing.T) {
	dir := t.TempDir()
	for name, s := range map[string]string{"a.in": "x", "a.out": "old", "stale.out": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bang := func(t *testing.T, in string) []byte {
		b, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		return append(b, '!')
	}
	Cases(t, dir, ".in", ".out", true, "regen", bang)
	if b, _ := os.ReadFile(filepath.Join(dir, "a.out")); string(b) != "x!" {
		t.Errorf("update wrote %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "stale.out")); !os.IsNotExist(err) {
		t.Errorf("update kept the stale file: %v", err)
	}
	Cases(t, dir, ".in", ".out", false, "regen", bang) // the rewritten files pass
}
