package session

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// maxKeyFileSize bounds what LoadKeyFiles reads: a key file holds 44 characters of base64, so
// anything much larger is the wrong file (and must not be read into memory whole).
const maxKeyFileSize = 4096

// keyEncodings are the base64 variants a key file may use, tried in order. Text made only of
// characters the two alphabets share decodes to the same bytes under both, so the order cannot
// change the key, only which variant is credited with it.
var keyEncodings = []*base64.Encoding{
	base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
}

// LoadKeyFiles reads one key per file and returns a Keyring whose first key (paths[0]) seals.
// Each file holds the base64 (standard or URL alphabet, padded or not, surrounding whitespace
// ignored) of exactly KeySize bytes. Errors name the file and what is wrong, never its content.
// rand is as for NewKeyring.
func LoadKeyFiles(paths []string, rand io.Reader) (*Keyring, error) {
	if len(paths) == 0 {
		return nil, errors.New("session: no key files given")
	}
	keys := make([][]byte, len(paths))
	labels := make([]string, len(paths))
	for i, path := range paths {
		labels[i] = "key file " + strconv.Quote(path)
		key, err := readKeyFile(path)
		if err != nil {
			return nil, fmt.Errorf("session: %s: %w", labels[i], err)
		}
		keys[i] = key
	}
	return newKeyring(keys, labels, rand)
}

// readKeyFile returns the key in path. Its errors describe the problem without the path (the
// caller names the file) and without any of the content.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		return nil, withoutPath(err)
	}
	defer func() { _ = f.Close() }() // read-only: a close error loses nothing
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, withoutPath(err)
	}
	defer clear(data) // the key material should not linger in a buffer nobody owns
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("larger than %d bytes; a key file holds only the base64 of %d bytes", maxKeyFileSize, KeySize)
	}
	text := bytes.TrimSpace(data)
	if len(text) == 0 {
		return nil, errors.New("is empty")
	}
	return decodeKey(text)
}

// decodeKey decodes the base64 text of one key.
func decodeKey(text []byte) ([]byte, error) {
	decodedLen := -1
	for _, enc := range keyEncodings {
		key := make([]byte, enc.DecodedLen(len(text)))
		n, err := enc.Decode(key, text)
		if err != nil {
			continue
		}
		if n == KeySize {
			return key[:n], nil
		}
		decodedLen = n
	}
	if decodedLen < 0 {
		return nil, errors.New("is not base64 (standard or URL alphabet, padded or not)")
	}
	return nil, fmt.Errorf("decodes to %d bytes, want %d", decodedLen, KeySize)
}

// withoutPath strips the *fs.PathError around err, whose message repeats the path the caller
// already names; errors.Is(err, fs.ErrNotExist) still holds on the result.
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
