package source

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kfgate/kfgate/gateway/ir"
	"github.com/kfgate/kfgate/test/pki"
)

// TestPEMFilesAreSecrets: NAME.crt, NAME.key and NAME.ca.crt next to the documents become the
// kubernetes.io/tls Secret NAME in namespace default, one per directory and name; a lone .crt
// still becomes one (so the TLSContext is told the key is missing); hidden files are not read.
func TestPEMFilesAreSecrets(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string, data []byte) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("site.crt", pki.File("example.crt"))
	write("site.key", pki.File("example.key"))
	write("site.ca.crt", pki.File("ca.crt"))
	write("sub/lonely.crt", pki.File("upstream.crt"))
	write(".hidden.key", pki.File("other.key"))
	write("docs.yaml", []byte("apiVersion: ambassador/v0\nkind: Mapping\nname: a\nprefix: /a/\nservice: a\n"))
	objs, err := LoadPaths(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.Secrets) != 2 || len(objs.Texts) != 1 {
		t.Fatalf("%d secrets, %d texts; want 2 and 1", len(objs.Secrets), len(objs.Texts))
	}
	site, lonely := Secret(objs.Secrets[0]), Secret(objs.Secrets[1])
	if site.Name != "site" || site.Namespace != "default" || site.Type != ir.SecretTypeTLS ||
		!bytes.Equal(site.Data[ir.SecretCert], pki.File("example.crt")) || !bytes.Equal(site.Data[ir.SecretKey], pki.File("example.key")) ||
		!bytes.Equal(site.Data[ir.SecretCA], pki.File("ca.crt")) {
		t.Errorf("site: %s/%s %s keys %d", site.Namespace, site.Name, site.Type, len(site.Data))
	}
	if lonely.Name != "lonely" || len(lonely.Data) != 1 {
		t.Errorf("lonely: %s with %d keys", lonely.Name, len(lonely.Data))
	}
}

// TestSecretDocuments: v1 Secret documents are read (stringData too, as the API server merges it);
// only tls.crt, tls.key and ca.crt reach the resolver; an unreadable one is reported without its content.
func TestSecretDocuments(t *testing.T) {
	text := `apiVersion: v1
kind: Secret
metadata: {name: s}
type: kubernetes.io/tls
data:
  tls.crt: ` + b64(pki.File("example.crt")) + `
  other: c2VjcmV0
stringData:
  tls.key: "not-a-key-but-kept"
---
apiVersion: v1
kind: Secret
metadata: {name: broken}
data:
  tls.key: [this-is-the-secret-value]
`
	var objs Objects
	ParseFile(&objs, "f.yaml", text)
	if len(objs.Secrets) != 1 {
		t.Fatalf("%d secrets", len(objs.Secrets))
	}
	s := Secret(objs.Secrets[0])
	if s.Namespace != "default" || string(s.Data[ir.SecretKey]) != "not-a-key-but-kept" || s.Data["other"] != nil ||
		!bytes.Equal(s.Data[ir.SecretCert], pki.File("example.crt")) {
		t.Errorf("secret %+v", s)
	}
	if len(objs.Diagnostics) != 1 || strings.Contains(objs.Diagnostics[0].String(), "this-is-the-secret-value") ||
		!strings.Contains(objs.Diagnostics[0].Message, "its content is not shown") {
		t.Errorf("diagnostics %v", objs.Diagnostics)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
