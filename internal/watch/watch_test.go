package watch

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// watching runs a Watcher on path and returns its changes, one value per
// call of OnChange.
func watching(t *testing.T, path string) <-chan struct{} {
	t.Helper()
	testutil.CheckNoGoroutineLeak(t)
	changes := make(chan struct{}, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	w := &Watcher{Path: path, Delay: 10 * time.Millisecond, OnChange: func() { changes <- struct{}{} }}
	ready := make(chan struct{})
	w.ready = func() { close(ready) }
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run = %v before it watched", err)
	}
	return changes
}

// wait waits for one change.
func wait(t *testing.T, changes <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-changes:
	case <-time.After(30 * time.Second): // a hang guard, not a timing
		t.Fatalf("no change seen after %s", what)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestWatcher(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	write(t, path, "1")
	changes := watching(t, path)

	write(t, path, "2")
	wait(t, changes, "a write in place")

	// An editor's save: a new file renamed over the old one.
	tmp := filepath.Join(dir, ".config.json.swp")
	write(t, tmp, "3")
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	wait(t, changes, "a save by rename")

	// The same bytes again, then other bytes: one change, the second.
	write(t, path, "3")
	write(t, filepath.Join(dir, "other.json"), "x")
	write(t, path, "4")
	wait(t, changes, "a write after a rewrite of the same bytes")

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	wait(t, changes, "a removal")
	write(t, path, "5")
	wait(t, changes, "the file coming back")
	select { // catches only a change too many that came already
	case <-changes:
		t.Error("a change too many: the same bytes, or another file, counted")
	default:
	}
}

func TestWatcherFollowsLinks(t *testing.T) {
	root := t.TempDir()
	dots := filepath.Join(root, "dotfiles")
	conf := filepath.Join(root, "config")
	for _, d := range []string{dots, conf} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(dots, "mcpmux.json")
	write(t, target, "1")
	path := filepath.Join(conf, "config.json")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	changes := watching(t, path)

	// The file behind the link, saved by rename in its own directory.
	tmp := filepath.Join(dots, "mcpmux.json.tmp")
	write(t, tmp, "2")
	if err := os.Rename(tmp, target); err != nil {
		t.Fatal(err)
	}
	wait(t, changes, "a save by rename behind a link")

	// The link swapped to another file, as Kubernetes swaps its ..data.
	other := filepath.Join(root, "other.json")
	write(t, other, "3")
	link := filepath.Join(conf, "config.json.new")
	if err := os.Symlink(other, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(link, path); err != nil {
		t.Fatal(err)
	}
	wait(t, changes, "the link swapped")

	// The new target is watched now, the old one no longer counts.
	write(t, target, "old target")
	write(t, other, "4")
	wait(t, changes, "a write to the new target")
	select {
	case <-changes:
		t.Error("a change too many: the old target still counted")
	default:
	}
}
