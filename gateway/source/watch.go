package source

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"
)

// Debounce bounds how a burst of changes becomes one rebuild: wait Holdoff after the last change,
// but never more than Max after the first.
type Debounce struct {
	Holdoff time.Duration
	Max     time.Duration
}

// DefaultDebounce is 20 ms after the last event, at most 200 ms.
var DefaultDebounce = Debounce{Holdoff: 20 * time.Millisecond, Max: 200 * time.Millisecond}

// WatchDir loads dir, calls apply with its objects, and again after every change until ctx ends.
// Files that cannot be parsed become diagnostics inside the objects; a directory that cannot be read
// is logged and the previous objects keep serving.
func WatchDir(ctx context.Context, dir string, d Debounce, log logr.Logger, apply func(Objects)) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching %s: %w", dir, err)
	}
	defer func() { _ = w.Close() }() // closing a watcher only releases inotify handles
	if err := addTree(w, dir); err != nil {
		return err
	}
	load := func() {
		objs, err := LoadPaths(dir)
		if err != nil {
			log.Error(err, "reading configuration; keeping the previous configuration", "dir", dir)
			return
		}
		apply(objs)
	}
	load()
	var timer <-chan time.Time
	var first time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Create) {
				if st, err := os.Stat(ev.Name); err == nil && st.IsDir() {
					_ = addTree(w, ev.Name) // a failure shows up as a missed change, logged below
				}
			}
			if !IsConfigFile(ev.Name) && !IsPEMFile(ev.Name) && !ev.Has(fsnotify.Create|fsnotify.Remove|fsnotify.Rename) {
				continue
			}
			now := time.Now()
			if timer == nil {
				first = now
			}
			wait := min(d.Holdoff, max(0, d.Max-now.Sub(first)))
			timer = time.After(wait)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			log.Error(err, "file watch error", "dir", dir)
		case <-timer:
			timer = nil
			load()
		}
	}
}

func addTree(w *fsnotify.Watcher, root string) error {
	return filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if err := w.Add(p); err != nil {
				return fmt.Errorf("watching %s: %w", p, err)
			}
		}
		return nil
	})
}
