package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAuthnHelp(t *testing.T) {
	out, _, err := runErr(t, "authn", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--config", "--grpc-address", "--http-address", "--insecure-cookies", "KFGATE_AUTHN_OIDC_ISSUER", "docs/authn.md"} {
		if !strings.Contains(out, want) {
			t.Errorf("authn --help lacks %q", want)
		}
	}
}

// A bad configuration stops the start with every problem named, and no secret in the message.
func TestAuthnRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s3cr3t-value"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "authn.yaml")
	yaml := "oidc:\n  issuer: ftp://idp\n  clientID: x\n  clientSecretFile: " + secret + "\nsession:\n  store: disk\n  keyFiles: [" + secret + "]\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runErr(t, "authn", "--config", cfg)
	if err == nil {
		t.Fatal("kfgate authn started with a bad configuration")
	}
	for _, want := range []string{"oidc.issuer", "session.store"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	// The key file holds no valid key: the error names the file, never its content.
	yaml = strings.Replace(strings.Replace(yaml, "ftp://idp", "https://idp.example.com", 1), "store: disk", "store: cookie", 1)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = runErr(t, "authn", "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "session.keyFiles") || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error %v: want one naming session.keyFiles without the secret", err)
	}
}
