package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry"
)

// newTestStore opens a store in a fresh directory, checks for leaked
// goroutines and closes the store at the end of the test.
func newTestStore(tb testing.TB, opts Options) (*DB, string) {
	tb.Helper()
	testutil.CheckNoGoroutineLeak(tb)
	dir := filepath.Join(tb.TempDir(), "store")
	return openTestStore(tb, dir, opts), dir
}

// openTestStore opens the store in dir and closes it at the end of the test.
func openTestStore(tb testing.TB, dir string, opts Options) *DB {
	tb.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		tb.Fatalf("Open(%q) = %v", dir, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close() = %v", err)
		}
	})
	return s
}

// recorder is a slog.Handler that keeps the records it handles.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}

// atLeast returns the messages of records at level or above.
func (r *recorder) atLeast(level slog.Level) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var msgs []string
	for _, rec := range r.records {
		if rec.Level >= level {
			msgs = append(msgs, rec.Message)
		}
	}
	return msgs
}

func TestStoreClose(t *testing.T) {
	s, dir := newTestStore(t, Options{})
	if got := s.Dir(); got != dir {
		t.Errorf("Dir() = %q, want %q", got, dir)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"SaveCatalogue", func() error { return s.SaveCatalogue("a", registry.Catalogue{}) }},
		{"LoadCatalogue", func() error { _, _, err := s.LoadCatalogue("a"); return err }},
		{"AppendEvent", func() error { return s.AppendEvent(Event{Server: "a", Kind: EventConnected}) }},
		{"History", func() error { _, err := s.History("", 0); return err }},
		{"RecordCall", func() error { return s.RecordCall("a", "t", time.Millisecond, false) }},
		{"ToolStats", func() error { _, err := s.ToolStats("a"); return err }},
		{"Flush", s.Flush},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", c.name, err)
		}
	}
}

func TestStoreLockedInProcess(t *testing.T) {
	_, dir := newTestStore(t, Options{})
	for _, opts := range []Options{{}, {ReadOnly: true}} {
		s, err := Open(dir, opts) // at once: Open does not wait for the lock
		if err == nil {
			s.Close()
		}
		if !errors.Is(err, ErrLocked) {
			t.Errorf("second Open(%q, ReadOnly: %t) = %v, want ErrLocked", dir, opts.ReadOnly, err)
		}
	}
}

const helperEnv = "MCPMUX_TEST_STORE_HELPER_DIR"

// TestHelperProcess is not a test: TestStoreLockedByOtherProcess runs the
// test binary with it to hold a store open in another process until its
// stdin is closed.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		return
	}
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func TestStoreLockedByOtherProcess(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	dir := filepath.Join(t.TempDir(), "store")
	startHelper(t, dir)
	for _, opts := range []Options{{}, {ReadOnly: true}} {
		s, err := Open(dir, opts) // at once: Open does not wait for the lock
		if err == nil {
			s.Close()
		}
		if !errors.Is(err, ErrLocked) {
			t.Errorf("Open(%q, ReadOnly: %t) = %v, want ErrLocked", dir, opts.ReadOnly, err)
		}
	}
}

// startHelper runs TestHelperProcess to hold the store in dir, and returns
// once it has. The helper ends with the test.
func startHelper(t *testing.T, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting helper process: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper process: %v", err)
		}
	})
	if line, err := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
		t.Fatalf("helper process said %q, %v; want \"ready\"", line, err)
	}
}

func TestStoreReadOnly(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	dir := filepath.Join(t.TempDir(), "store")
	if _, err := Open(dir, Options{ReadOnly: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing dir, ReadOnly) = %v, want fs.ErrNotExist", err)
	}
	w := openTestStore(t, dir, Options{})
	if err := w.SaveCatalogue("a", registry.Catalogue{Instructions: "hi"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTestStore(t, dir, Options{ReadOnly: true})
	if c, ok, err := s.LoadCatalogue("a"); !ok || err != nil || c.Instructions != "hi" {
		t.Errorf("LoadCatalogue(a) = %+v, %t, %v; want the saved one", c, ok, err)
	}
	if err := s.Flush(); err != nil {
		t.Errorf("Flush() = %v, want nil", err)
	}
	writes := []struct {
		name string
		call func() error
	}{
		{"SaveCatalogue", func() error { return s.SaveCatalogue("a", registry.Catalogue{}) }},
		{"AppendEvent", func() error { return s.AppendEvent(Event{Server: "a", Kind: EventConnected}) }},
		{"RecordCall", func() error { return s.RecordCall("a", "t", time.Millisecond, false) }},
	}
	for _, w := range writes {
		if err := w.call(); !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on read-only store = %v, want ErrReadOnly", w.name, err)
		}
	}
}

func TestStoreCorruptMovedAside(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	dir := filepath.Join(t.TempDir(), "store")
	old := openTestStore(t, dir, Options{})
	if err := old.SaveCatalogue("a", registry.Catalogue{Instructions: "old"}); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	garbage := []byte("this is not a Badger manifest")
	if err := os.WriteFile(filepath.Join(dir, "MANIFEST"), garbage, 0o600); err != nil {
		t.Fatal(err)
	}

	// A read-only open leaves the damaged store alone.
	if _, err := Open(dir, Options{ReadOnly: true}); err == nil || errors.Is(err, ErrLocked) {
		t.Errorf("Open(corrupt, ReadOnly) = %v, want an error other than ErrLocked", err)
	}
	if aside, _ := filepath.Glob(dir + ".corrupt-*"); len(aside) != 0 {
		t.Fatalf("read-only open moved the store aside to %q", aside)
	}

	var rec recorder
	s := openTestStore(t, dir, Options{Logger: slog.New(&rec)})
	if _, ok, err := s.LoadCatalogue("a"); ok || err != nil {
		t.Errorf("LoadCatalogue(a) in fresh store = %t, %v; want false, nil", ok, err)
	}
	if err := s.SaveCatalogue("a", registry.Catalogue{Instructions: "new"}); err != nil {
		t.Errorf("SaveCatalogue in fresh store = %v", err)
	}
	if msgs := rec.atLeast(slog.LevelWarn); len(msgs) != 1 {
		t.Errorf("logged %q, want one warning", msgs)
	}
	aside, _ := filepath.Glob(dir + ".corrupt-*")
	if len(aside) != 1 {
		t.Fatalf("corrupt copies = %q, want one", aside)
	}
	if got, err := os.ReadFile(filepath.Join(aside[0], "MANIFEST")); string(got) != string(garbage) {
		t.Errorf("corrupt copy's MANIFEST = %q, %v; want the garbage", got, err)
	}
}

func TestStoreDefaultDataDir(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("XDG layout is for Linux")
	}
	tests := []struct {
		name, xdg, home, want string
	}{
		{"xdg", "/xdg/state", "/home/u", "/xdg/state/mcpmux"},
		{"relative xdg ignored", "state", "/home/u", "/home/u/.local/state/mcpmux"},
		{"no xdg", "", "/home/u", "/home/u/.local/state/mcpmux"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_STATE_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			if got, err := DefaultDataDir(); got != tt.want || err != nil {
				t.Errorf("DefaultDataDir() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
