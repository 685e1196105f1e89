package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry"
)

var (
	small = &registry.Server{Name: "small", Command: "small"}
	big   = &registry.Server{Name: "big", Command: "big"} // its catalogue lives in the value log
)

// fillStore writes catalogues, states, events and statistics to the store
// of dataDir, as a serving mcpmux would.
func fillStore(tb testing.TB, dataDir string) {
	tb.Helper()
	tools := make([]json.RawMessage, 2000)
	for i := range tools {
		tools[i] = json.RawMessage(fmt.Sprintf(`{"name":"tool_%04d","description":"%s"}`, i, strings.Repeat("x", 40)))
	}
	at := time.Now().Add(-time.Hour)
	b := &Batch{
		Catalogues: map[string]registry.Catalogue{
			small.Name: {Tools: tools[:3], Fetched: at, Fingerprint: small.Fingerprint()},
			big.Name:   {Tools: tools, Fetched: at, Fingerprint: big.Fingerprint()},
		},
		States: map[string]ServerState{small.Name: {Server: small.Name, State: StateReady, Since: at}},
		Events: []Event{{Server: small.Name, Kind: EventConnected, Time: at}, {Server: big.Name, Kind: EventConnected, Time: at}},
	}
	b.addCall(small.Name, "tool_0000", CallStats{Calls: 3, Errors: 1, LastCall: at})
	s, err := Open(Dir(dataDir), Options{})
	if err != nil {
		tb.Fatal(err)
	}
	err = errors.Join(s.Write(b), s.Close())
	if err != nil {
		tb.Fatal(err)
	}
}

// damages are the ways the files of a store are found damaged in the
// wild: cut short by a full disk or a crash, overwritten, or replaced.
var damages = []struct {
	name   string
	damage func(tb testing.TB, dir string) // dir is the store's directory
}{
	{"truncated sst", func(tb testing.TB, dir string) {
		eachFile(tb, dir, ".sst", func(f *os.File) error { return f.Truncate(100) })
	}},
	{"garbage in sst", func(tb testing.TB, dir string) {
		eachFile(tb, dir, ".sst", func(f *os.File) error { return overwrite(f, 300, []byte(strings.Repeat("\xde\xad\xbe\xef", 50))) })
	}},
	{"zeroed sst header", func(tb testing.TB, dir string) {
		eachFile(tb, dir, ".sst", func(f *os.File) error { return overwrite(f, 0, make([]byte, 64)) })
	}},
	{"truncated vlog", func(tb testing.TB, dir string) {
		eachFile(tb, dir, ".vlog", func(f *os.File) error {
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			return f.Truncate(fi.Size() / 2)
		})
	}},
	{"bad MANIFEST", func(tb testing.TB, dir string) {
		writeFile(tb, filepath.Join(dir, "MANIFEST"), "this is not a Badger manifest")
	}},
	{"file in place of the store", func(tb testing.TB, dir string) {
		if err := os.RemoveAll(dir); err != nil {
			tb.Fatal(err)
		}
		writeFile(tb, dir, "not a store")
	}},
}

// eachFile calls fn with every file in dir whose name ends in suffix,
// opened for writing; it fails tb if there is none.
func eachFile(tb testing.TB, dir, suffix string, fn func(*os.File) error) {
	tb.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if len(names) == 0 {
		tb.Fatalf("no %s file in %s", suffix, dir)
	}
	for _, name := range names {
		f, err := os.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			tb.Fatal(err)
		}
		err = errors.Join(fn(f), f.Close())
		if err != nil {
			tb.Fatal(err)
		}
	}
}

func overwrite(f *os.File, off int64, data []byte) error {
	_, err := f.WriteAt(data, off)
	return err
}

func writeFile(tb testing.TB, path, data string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// No damaged store crashes or hangs the process that uses it through a
// handle with a child: every use returns, a damaged store is moved aside
// once with one warning naming it, and the next write goes to a fresh
// store that reads back.
func TestHandleDamagedStore(t *testing.T) {
	for _, tt := range damages {
		t.Run(tt.name, func(t *testing.T) {
			testutil.CheckNoChildren(t)
			testutil.CheckNoGoroutineLeak(t)
			dataDir := t.TempDir()
			fillStore(t, dataDir)
			tt.damage(t, Dir(dataDir))
			var logs recorder
			h := NewHandle(dataDir, HandleOptions{Child: testChild(), Logger: slog.New(&logs)})
			ctx := context.Background()
			servers := []*registry.Server{small, big}

			sums, err := h.Summarize(ctx, servers, time.Now())
			t.Logf("Summarize = %d summaries, %v", len(sums), err)
			events, err := h.History(ctx, "", 0)
			t.Logf("History = %d events, %v", len(events), err)
			cached, err := h.LoadCatalogues(ctx, servers)
			t.Logf("LoadCatalogues = %d catalogues, %v", len(cached), err)
			b := &Batch{Events: []Event{{Server: small.Name, Kind: EventStopped, Time: time.Now()}}}
			if err := h.Write(ctx, b); err != nil || !b.Empty() {
				t.Errorf("Write after the damage = %v, left %+v; want it written", err, b)
			}
			h.Wait()

			aside, _ := filepath.Glob(Dir(dataDir) + ".corrupt-*")
			warnings := logs.atLeast(slog.LevelWarn)
			if len(aside) != 1 || len(warnings) != 1 || !strings.Contains(warnings[0], "moved aside") {
				t.Errorf("moved aside to %q with warnings %q; want one copy and one warning", aside, warnings)
			}
			if events, err := h.History(ctx, small.Name, 1); err != nil || len(events) != 1 || events[0].Kind != EventStopped {
				t.Errorf("History(small) after the write = %+v, %v; want the stopped event", events, err)
			}
		})
	}
}

// A store whose process hangs counts as damaged: the process is killed
// after its time limit, and the store moved aside.
func TestHandleHungChild(t *testing.T) {
	testutil.CheckNoChildren(t)
	testutil.CheckNoGoroutineLeak(t)
	dataDir := t.TempDir()
	fillStore(t, dataDir)
	var logs recorder
	hung := &Child{Path: "sh", Args: []string{"-c", "sleep 60"}, Timeout: 100 * time.Millisecond}
	h := NewHandle(dataDir, HandleOptions{Child: hung, Logger: slog.New(&logs), LockWait: 100 * time.Millisecond})
	events, err := h.History(context.Background(), "", 0)
	if err != nil || len(events) != 0 {
		t.Errorf("History(hung store) = %+v, %v; want nothing, the store being moved aside", events, err)
	}
	h.Wait()
	warnings := logs.atLeast(slog.LevelWarn)
	if aside, _ := filepath.Glob(Dir(dataDir) + ".corrupt-*"); len(aside) != 1 || len(warnings) != 1 {
		t.Errorf("moved aside to %q with warnings %q; want one copy and one warning", aside, warnings)
	}
}

// A child that fails without crashing (it cannot start, or exits with an
// error) says nothing about the store, which stays where it is.
func TestHandleFailingChildIsNotDamage(t *testing.T) {
	testutil.CheckNoChildren(t)
	testutil.CheckNoGoroutineLeak(t)
	for _, child := range []*Child{
		{Path: "sh", Args: []string{"-c", "echo cannot >&2; exit 1"}},
		{Path: filepath.Join(t.TempDir(), "no-such-mcpmux")},
	} {
		dataDir := t.TempDir()
		fillStore(t, dataDir)
		h := NewHandle(dataDir, HandleOptions{Child: child})
		if _, err := h.History(context.Background(), "", 0); err == nil {
			t.Errorf("History with child %s = nil error, want its failure", child.Path)
		}
		h.Wait()
		if aside, _ := filepath.Glob(Dir(dataDir) + ".corrupt-*"); len(aside) != 0 {
			t.Errorf("child %s moved the store aside to %q", child.Path, aside)
		}
	}
}

// A handle moves a store aside once: if the fresh store fails too, the
// fault is not in the files, and what the fresh store holds is kept.
func TestHandleRepairsOnce(t *testing.T) {
	testutil.CheckNoChildren(t)
	testutil.CheckNoGoroutineLeak(t)
	dataDir := t.TempDir()
	fillStore(t, dataDir)
	crash := &Child{Path: "sh", Args: []string{"-c", "echo 'panic: boom' >&2; exit 2"}}
	var logs recorder
	h := NewHandle(dataDir, HandleOptions{Child: crash, Logger: slog.New(&logs)})
	ctx := context.Background()
	if _, err := h.History(ctx, "", 0); err != nil {
		t.Errorf("first History = %v, want nil: the store is moved aside", err)
	}
	fillStore(t, dataDir) // the fresh store
	if _, err := h.History(ctx, "", 0); err == nil || !strings.Contains(err.Error(), "panic: boom") {
		t.Errorf("second History = %v, want the crash", err)
	}
	h.Wait()
	if aside, _ := filepath.Glob(Dir(dataDir) + ".corrupt-*"); len(aside) != 1 || len(logs.atLeast(slog.LevelWarn)) != 1 {
		t.Errorf("moved aside to %q, warned %q; want once", aside, logs.atLeast(slog.LevelWarn))
	}
}

// A use that its caller stops waiting for goes on to its end; Wait waits
// for it.
func TestHandleCallerStopsWaiting(t *testing.T) {
	testutil.CheckNoChildren(t)
	testutil.CheckNoGoroutineLeak(t)
	dataDir := t.TempDir()
	fillStore(t, dataDir)
	held := openTestStore(t, Dir(dataDir), Options{})
	h := NewHandle(dataDir, HandleOptions{Child: testChild(), LockWait: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.History(ctx, "", 0); !errors.Is(err, context.Canceled) && !errors.Is(err, ErrLocked) {
		t.Errorf("History with an ended context = %v, want its error", err)
	}
	h.Wait()
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	if aside, _ := filepath.Glob(Dir(dataDir) + ".corrupt-*"); len(aside) != 0 {
		t.Errorf("a stopped use moved the store aside to %q", aside)
	}
}
