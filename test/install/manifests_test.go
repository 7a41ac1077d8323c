package install

import (
	"os"
	"path/filepath"
	"testing"
)

// manifests are the rendered installs in manifests/, each the render of one overlay under a
// one-line header (the Makefile's manifests target writes them).
var manifests = map[string]string{
	"install.yaml":  "kustomize/overlays/standalone",
	"kubeflow.yaml": "kustomize/overlays/kubeflow",
}

// TestManifestsFresh fails when manifests/*.yaml are not what `make manifests` renders now.
func TestManifestsFresh(t *testing.T) {
	for file, dir := range manifests {
		t.Run(file, func(t *testing.T) {
			got, err := os.ReadFile(filepath.Join(repoRoot, "manifests", file))
			if err != nil {
				t.Fatal(err)
			}
			want := "# Rendered by `make manifests` from " + dir + ": do not edit.\n" + render(t, dir).text
			if string(got) != want {
				t.Errorf("manifests/%s is stale: run `make manifests`", file)
			}
		})
	}
	entries, err := os.ReadDir(filepath.Join(repoRoot, "manifests"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".yaml" && manifests[e.Name()] == "" {
			t.Errorf("manifests/%s is rendered from nothing the Makefile knows", e.Name())
		}
	}
}
