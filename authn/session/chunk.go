package session

import (
	"fmt"
	"strings"
)

// chunkValueSize is the most value bytes one cookie carries. With the name (at most
// len("__Host-")+maxCookieNameLen+2) and the attributes (about 110 bytes) a Set-Cookie line stays
// under the 4096 bytes browsers accept for one cookie.
const chunkValueSize = 3800

// The first chunk starts with the number of chunks and a dot ("3.AbC..."), so Load can tell a
// missing or extra chunk from a tampered value and say which. The count is not authenticated, and
// need not be: the sealed value is one GCM message, so any change to how it is split, reordered or
// truncated fails to open.
const countSep = '.'

// splitChunks splits a sealed value into the cookie values of its chunks, each at most size
// bytes (chunkValueSize; tests use less, so fuzzing works on small inputs).
func splitChunks(sealed string, size int) ([]string, error) {
	// The count prefix takes two bytes of the first chunk ("N."), as maxChunks is below ten.
	n := (len(sealed) + 2 + size - 1) / size
	if n > maxChunks {
		return nil, fmt.Errorf("%w: sealed session is %d bytes, more than the %d that fit in %d cookies (a smaller ID token, fewer groups, or the Redis store)",
			ErrTooLarge, len(sealed), maxChunks*size-2, maxChunks)
	}
	values := make([]string, n)
	rest := string(rune('0'+n)) + string(countSep) + sealed
	for i := range values {
		k := min(size, len(rest))
		values[i], rest = rest[:k], rest[k:]
	}
	return values, nil
}

// joinChunks reassembles the sealed value from the request's chunks (by index, as ownedCookies
// returns them). Every index below the count must be present and none above it.
func joinChunks(chunks map[int]string) (string, error) {
	first, ok := chunks[0]
	if !ok {
		return "", fmt.Errorf("%w: %d chunk cookie(s) without the first one", ErrInvalid, len(chunks))
	}
	if len(first) < 2 || first[1] != countSep || first[0] < '1' || first[0] > '0'+maxChunks {
		return "", fmt.Errorf("%w: first cookie does not start with a chunk count", ErrInvalid)
	}
	n := int(first[0] - '0')
	var b strings.Builder
	b.WriteString(first[2:])
	for i := 1; i < n; i++ {
		v, ok := chunks[i]
		if !ok {
			return "", fmt.Errorf("%w: chunk %d of %d missing", ErrInvalid, i, n)
		}
		b.WriteString(v)
	}
	if len(chunks) > n {
		for i := n; i < maxChunks; i++ {
			if _, ok := chunks[i]; ok {
				return "", fmt.Errorf("%w: chunk %d present but the session has %d", ErrInvalid, i, n)
			}
		}
	}
	return b.String(), nil
}
