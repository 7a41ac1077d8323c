package envoystandin

import (
	"strings"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// pathAction is what path hygiene decides (CMU maybeNormalizePath).
type pathAction int

const (
	pathContinue pathAction = iota
	pathReject              // 400
	pathRedirect            // 307 to the new path
)

// normalizePath is CMU maybeNormalizePath: a fragment is rejected (the default of
// http_reject_path_with_fragment), then escaped slashes, RFC 3986 normalisation, merged slashes.
func (h *hcm) normalize(p string) (string, pathAction) {
	if strings.IndexByte(p, '#') >= 0 {
		return p, pathReject
	}
	action := pathContinue
	if h.escapedSlashes != hcmv3.HttpConnectionManager_KEEP_UNCHANGED {
		var found bool
		if p, found = unescapeSlashes(p); found {
			switch h.escapedSlashes {
			case hcmv3.HttpConnectionManager_REJECT_REQUEST:
				return p, pathReject
			case hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT:
				action = pathRedirect
			}
		}
	}
	if h.normalizePath {
		var ok bool
		if p, ok = canonicalPath(p); !ok {
			return p, pathReject
		}
	}
	if h.mergeSlashes {
		p = mergeSlashes(p)
	}
	return p, action
}

// splitQuery splits a :path at its query.
func splitQuery(p string) (path, query string) {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

// unescapeSlashes is PathUtil::unescapeSlashes: %2F and %5C (any case) in the path, not the query,
// become / and \.
func unescapeSlashes(p string) (string, bool) {
	path, query := splitQuery(p)
	var b strings.Builder
	found := false
	for i := 0; i < len(path); i++ {
		if path[i] == '%' && i+2 < len(path) {
			switch strings.ToUpper(path[i+1 : i+3]) {
			case "2F":
				b.WriteByte('/')
				i += 2
				found = true
				continue
			case "5C":
				b.WriteByte('\\')
				i += 2
				found = true
				continue
			}
		}
		b.WriteByte(path[i])
	}
	return b.String() + query, found
}

// mergeSlashes is PathTransformer::mergeSlashes: runs of '/' in the path become one.
func mergeSlashes(p string) string {
	path, query := splitQuery(p)
	if !strings.Contains(path, "//") {
		return p
	}
	var segs []string
	for _, s := range strings.Split(path, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	out := ""
	if strings.HasPrefix(path, "/") {
		out = "/"
	}
	out += strings.Join(segs, "/")
	if strings.HasSuffix(path, "/") {
		out += "/"
	}
	return out + query
}

// canonicalPath is PathUtil::canonicalPath, which is Chromium's url::CanonicalizePath on the path
// (the query kept as is): '\' is a separator, "." and ".." segments (also written %2e) are resolved,
// escapes of unreserved characters are decoded, other escapes kept as written, and characters
// outside the path set escaped. An escaped NUL makes the path invalid (400).
func canonicalPath(p string) (string, bool) {
	path, query := splitQuery(p)
	path = strings.ReplaceAll(path, "\\", "/")
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var out []string
	for i, raw := range segs {
		last := i == len(segs)-1
		seg, ok := canonicalSegment(raw)
		if !ok {
			return p, false
		}
		switch dots.Replace(seg) {
		case ".":
			if last {
				out = append(out, "")
			}
			continue
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
			continue
		}
		out = append(out, seg)
	}
	return "/" + strings.Join(out, "/") + query, true
}

var dots = strings.NewReplacer("%2e", ".", "%2E", ".")

// canonicalSegment canonicalises one segment's characters (Chromium kPathCharLookup).
func canonicalSegment(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			switch {
			case v == 0:
				return "", false
			case v == '.':
				b.WriteString(s[i : i+3]) // a dot for dot segments (the caller), kept as written otherwise
			case unreserved(v):
				b.WriteByte(v)
			default:
				b.WriteString(s[i : i+3])
			}
			i += 2
			continue
		}
		if escapeInPath(c) {
			b.WriteString("%" + strings.ToUpper(hexByte(c)))
			continue
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '~'
}

// escapeInPath: controls, space, '"', '<', '>', '`', DEL and non-ASCII bytes are escaped.
func escapeInPath(c byte) bool {
	return c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '`'
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func hexByte(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}
