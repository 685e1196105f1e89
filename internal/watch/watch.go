// Package watch tells when the content of a file changes, however it is
// saved: written in place, replaced by renaming another file over it (as
// most editors save), or reached through symbolic links whose targets
// are edited or swapped (dotfile managers, Kubernetes config maps).
//
// A [Watcher] watches directories, not the file: a file replaced by a
// rename is a new file, which a watch on the old one never sees. It
// watches the directory of the path and of every link on the way to the
// file, follows the links anew after each change, and reports a change
// only when the bytes differ from the last ones it read, once per burst
// of events (an editor's save is several). File system events come from
// fsnotify (inotify, kqueue, ReadDirectoryChangesW), which no code of our
// own could match on every system.
package watch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDelay is how long a Watcher waits after the last event of a burst
// before it reads the file.
const DefaultDelay = 100 * time.Millisecond

// maxLinks bounds the links followed from the path, as the kernel does.
const maxLinks = 40

// Watcher watches one file. Set its fields, then call Run.
type Watcher struct {
	// Path is the file; it may be a symbolic link, and need not exist.
	Path string
	// OnChange is called, from Run's goroutine, each time the file's
	// content differs from what it was when last read (or Run started).
	// A file that disappears counts as a change; one that comes back
	// too.
	OnChange func()
	// Delay is how long to wait after the last event of a burst. Zero
	// means DefaultDelay.
	Delay time.Duration
	// Logger receives the watcher's problems. Nil discards them.
	Logger *slog.Logger

	ready func() // called once Run watches; tests set it

	fsw     *fsnotify.Watcher
	watched map[string]bool // directories being watched
	names   []string        // the path, each link on the way and the file
	sum     []byte          // of the content last read; nil for none
}

// Run watches until ctx ends, and returns ctx's error, or an error at
// once if the system gives no watcher.
func (w *Watcher) Run(ctx context.Context) error {
	if w.Logger == nil {
		w.Logger = slog.New(slog.DiscardHandler)
	}
	delay := w.Delay
	if delay <= 0 {
		delay = DefaultDelay
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer fsw.Close()
	w.fsw, w.watched = fsw, map[string]bool{}
	w.follow()
	w.sum = w.read()
	if w.ready != nil {
		w.ready()
	}
	timer := time.NewTimer(delay)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-fsw.Events:
			if !ok {
				return ctx.Err()
			}
			if w.concerns(ev.Name) {
				timer.Reset(delay)
			}
		case err, ok := <-fsw.Errors:
			if ok {
				w.Logger.Warn("watching the configuration", "path", w.Path, "err", err)
			}
		case <-timer.C:
			w.follow()
			if sum := w.read(); !bytes.Equal(sum, w.sum) {
				w.sum = sum
				w.OnChange()
			}
		}
	}
}

// read returns a digest of the file's content, nil if it cannot be read.
func (w *Watcher) read() []byte {
	data, err := os.ReadFile(w.Path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			w.Logger.Warn("reading the configuration", "err", err)
		}
		return nil
	}
	sum := sha256.Sum256(data)
	return sum[:]
}

// concerns reports whether an event about name can change what the path
// reads: name is the path, a link on the way or the file, or a directory
// on the way to one of them (a linked directory swapped, as Kubernetes
// updates its config maps). Other files in the watched directories, such
// as an editor's backups, are ignored.
func (w *Watcher) concerns(name string) bool {
	for _, n := range w.names {
		if n == name || strings.HasPrefix(n, name+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// follow watches the directories of the path and of every link it
// leads through, and stops watching those it no longer does.
func (w *Watcher) follow() {
	want := map[string]bool{}
	w.names = chain(w.Path)
	for _, dir := range dirs(w.names) {
		want[dir] = true
		if w.watched[dir] {
			continue
		}
		if err := w.fsw.Add(dir); err != nil {
			w.Logger.Debug("watching a directory", "dir", dir, "err", err)
			continue
		}
		w.watched[dir] = true
	}
	for dir := range w.watched {
		if !want[dir] {
			_ = w.fsw.Remove(dir)
			delete(w.watched, dir)
		}
	}
}

// chain returns the path, absolute, each link it leads through, and the
// file they resolve to.
func chain(path string) []string {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil
	}
	out := []string{path}
	for range maxLinks {
		target, err := os.Readlink(path)
		if err != nil {
			break
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
		out = append(out, path)
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		out = append(out, real)
	}
	return out
}

// dirs returns the directories of names, each once.
func dirs(names []string) []string {
	var out []string
	for _, n := range names {
		if d := filepath.Dir(n); !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}
