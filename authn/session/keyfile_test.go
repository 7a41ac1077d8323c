package session

import (
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeKeyFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadKeyFilesEncodings(t *testing.T) {
	// A key whose base64 uses the characters where the alphabets differ, and needs padding.
	key := []byte(strings.Repeat("\xfb\xff\xbf", 10) + "\xfe\xff")
	if len(key) != KeySize {
		t.Fatal("test key length")
	}
	want, _ := testKeyring(t, key).Seal("p", []byte("v"))
	encodings := map[string]string{
		"std padded":      base64.StdEncoding.EncodeToString(key),
		"std unpadded":    base64.RawStdEncoding.EncodeToString(key),
		"url padded":      base64.URLEncoding.EncodeToString(key),
		"url unpadded":    base64.RawURLEncoding.EncodeToString(key),
		"trailing LF":     base64.StdEncoding.EncodeToString(key) + "\n",
		"surrounding ws":  " \t\r\n" + base64.URLEncoding.EncodeToString(key) + " \r\n\n",
		"kubernetes file": base64.StdEncoding.EncodeToString(key), // as a Secret volume writes it
	}
	for name, content := range encodings {
		t.Run(name, func(t *testing.T) {
			k, err := LoadKeyFiles([]string{writeKeyFile(t, "key", content)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := k.Open("p", want); err != nil {
				t.Fatalf("loaded key is not the written one: %v", err)
			}
		})
	}
}

func TestLoadKeyFilesOrder(t *testing.T) {
	first := writeKeyFile(t, "new", base64.StdEncoding.EncodeToString(testKey(2)))
	second := writeKeyFile(t, "old", base64.StdEncoding.EncodeToString(testKey(1)))
	k, err := LoadKeyFiles([]string{first, second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sealedOld, _ := testKeyring(t, testKey(1)).Seal("p", []byte("v"))
	if _, err := k.Open("p", sealedOld); err != nil {
		t.Fatalf("second file's key does not open: %v", err)
	}
	sealed, _ := k.Seal("p", []byte("v"))
	if _, err := testKeyring(t, testKey(2)).Open("p", sealed); err != nil {
		t.Fatalf("first file's key does not seal: %v", err)
	}
}

func TestLoadKeyFilesErrors(t *testing.T) {
	short := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	notB64 := "this is definitely-not*base64!"
	long := strings.Repeat("QUFB", 2000)
	dup := base64.StdEncoding.EncodeToString(testKey(1))
	cases := []struct {
		name    string
		content *string // nil: the file does not exist
		want    string
		isNotEx bool
	}{
		{"short.key", &short, "decodes to 16 bytes, want 32", false},
		{"garbage.key", &notB64, "is not base64", false},
		{"empty.key", new(" \n\t"), "is empty", false},
		{"big.key", &long, "larger than 4096 bytes", false},
		{"missing.key", nil, "no such file", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.name)
			if tc.content != nil {
				path = writeKeyFile(t, tc.name, *tc.content)
			}
			good := writeKeyFile(t, "good.key", dup)
			_, err := LoadKeyFiles([]string{good, path}, nil)
			if err == nil {
				t.Fatal("LoadKeyFiles succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, path) || !strings.Contains(msg, tc.want) {
				t.Fatalf("err = %q, want it to name %s and say %q", msg, path, tc.want)
			}
			if strings.Count(msg, path) != 1 {
				t.Errorf("err = %q names the file more than once", msg)
			}
			if tc.isNotEx != errors.Is(err, fs.ErrNotExist) {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v", !tc.isNotEx)
			}
			if tc.content != nil {
				mustNotLeak(t, err, strings.TrimSpace(*tc.content))
			}
			mustNotLeak(t, err, dup)
		})
	}

	t.Run("duplicate", func(t *testing.T) {
		a, b := writeKeyFile(t, "a.key", dup), writeKeyFile(t, "b.key", dup+"\n")
		_, err := LoadKeyFiles([]string{a, b}, nil)
		if err == nil || !strings.Contains(err.Error(), `key file "`+b+`" is the same key as key file "`+a+`"`) {
			t.Fatalf("err = %v", err)
		}
		mustNotLeak(t, err, dup)
	})
	t.Run("none", func(t *testing.T) {
		if _, err := LoadKeyFiles(nil, nil); err == nil {
			t.Fatal("no files accepted")
		}
	})
}
