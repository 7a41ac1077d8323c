// Package golden compares test output with files under testdata, and rewrites them on request: the
// one golden-file harness of gateway/build, kubeflow and authn.
package golden

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Cases runs render for every file matching dir/*<in> and compares its output with the file of
// the same name ending in out; a file ending in out without its input is reported (or deleted
// with update). regen is the command that rewrites them, for the failure messages.
func Cases(t *testing.T, dir, in, out string, update bool, regen string, render func(t *testing.T, in string) []byte) {
	t.Helper()
	inputs, err := filepath.Glob(filepath.Join(dir, "*"+in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, input := range inputs {
		name := strings.TrimSuffix(filepath.Base(input), in)
		file := filepath.Join(dir, name+out)
		want[file] = true
		t.Run(name, func(t *testing.T) { Compare(t, file, render(t, input), update, regen) })
	}
	Stale(t, filepath.Join(dir, "*"+out), want, update, regen)
}

// Compare checks got against file, or writes it there with update.
func Compare(t *testing.T, file string, got []byte, update bool, regen string) {
	t.Helper()
	if update {
		if err := os.WriteFile(file, got, 0o644); err != nil { //nolint:gosec // G306: test data, read by people
			t.Fatal(err)
		}
		return
	}
	if err := Check(file, got); err != nil {
		t.Errorf("%v (run %s and review the diff)", err, regen)
	}
}

// Check says how got differs from file's content (nil when it does not).
func Check(file string, got []byte) error {
	exp, err := os.ReadFile(file) //nolint:gosec // G304: the test's own testdata
	if err != nil {
		return err
	}
	if !bytes.Equal(exp, got) {
		return fmt.Errorf("%s differs from the current output:\n%s", file, FirstDiff(string(exp), string(got)))
	}
	return nil
}

// Stale reports the files matching glob that no case produced, or deletes them with update.
func Stale(t *testing.T, glob string, want map[string]bool, update bool, regen string) {
	t.Helper()
	stale, err := StaleFiles(glob, want)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range stale {
		if !update {
			t.Errorf("%s belongs to no case (run %s to delete it)", f, regen)
		} else if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
}

// StaleFiles lists the files matching glob that are not in want.
func StaleFiles(glob string, want map[string]bool) ([]string, error) {
	files, err := filepath.Glob(glob)
	var stale []string
	for _, f := range files {
		if !want[f] {
			stale = append(stale, f)
		}
	}
	return stale, err
}

// FirstDiff names the first line where want and got differ.
func FirstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, w, g)
		}
	}
	return ""
}
