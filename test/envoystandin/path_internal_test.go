package envoystandin

import (
	"testing"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// Envoy's own vectors (test/common/http/path_utility_test.cc).
func TestCanonicalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/xyz": "/xyz", "/x/y/z": "/x/y/z", "/a/b/../c": "/a/c", "/a/b/./c": "/a/b/c", "a/b/../c": "/a/c",
		"/a/b/../../../../c": "/c", "/a/..\\c": "/c", "/%c0%af": "/%c0%af", "/%5c%25": "/%5c%25",
		"/a/b/%2E%2E/c": "/a/c", "/a/b/%2E./c": "/a/c", "/a/b/%2E/c": "/a/b/c", "..": "/", "/../a/b": "/a/b",
		"/./a/b": "/a/b", "/A/B/C": "/A/B/C", "/a/b/%2e%2e/c": "/a/c", "/a/%2F%2f/c": "/a/%2F%2f/c",
		"/a/b/..": "/a/", "/a/.": "/a/", "/a%2eb": "/a%2eb", "/%41%7e": "/A~", "/a b": "/a%20b", "/q?x=/../y": "/q?x=/../y",
	} {
		if got, ok := canonicalPath(in); !ok || got != want {
			t.Errorf("canonicalPath(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"/xyz/.%00../abc", "/xyz/%00.%00./abc", "/xyz/AAAAA%%0000/abc"} {
		if got, ok := canonicalPath(in); ok {
			t.Errorf("canonicalPath(%q) = %q; want it rejected", in, got)
		}
	}
}

func TestMergeSlashes(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "a//b/c": "a/b/c", "/a//b/c/": "/a/b/c/", "a//b/c/": "a/b/c/", "/a": "/a", "//a/b/c": "/a/b/c",
		"/a/b/c//": "/a/b/c/", "/a///b/c": "/a/b/c", "/a//b?a=///c": "/a/b?a=///c", "/a//b?": "/a/b?", "//a/?b": "/a/?b",
	} {
		if got := mergeSlashes(in); got != want {
			t.Errorf("mergeSlashes(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeOrder(t *testing.T) {
	h := &hcm{normalizePath: true, mergeSlashes: true, escapedSlashes: hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT}
	for _, c := range []struct {
		in, want string
		action   pathAction
	}{
		{"/a/%2F../b", "/a/b", pathRedirect}, // unescaped, then normalised and merged: one redirect
		{"/a/%5Cb", "/a/b", pathRedirect},
		{"/a//b/./c", "/a/b/c", pathContinue},
		{"/a#frag", "/a#frag", pathReject},
		{"/a/%00", "/a/%00", pathReject},
	} {
		if got, action := h.normalize(c.in); got != c.want || action != c.action {
			t.Errorf("normalize(%q) = %q, %v; want %q, %v", c.in, got, action, c.want, c.action)
		}
	}
}
