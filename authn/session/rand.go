package session

import (
	"io"
	"sync"
)

// lockedReader serialises reads, so that an injected random source that is not safe for
// concurrent use (a seeded test generator) can be shared by concurrent requests.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func lockReader(r io.Reader) io.Reader {
	if lr, ok := r.(*lockedReader); ok {
		return lr
	}
	return &lockedReader{r: r}
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}
