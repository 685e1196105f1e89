package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry"
)

// newTestRecorder returns a recorder on a fresh data directory, logging to
// logs, and checks for leaked goroutines.
func newTestRecorder(t *testing.T, opts RecorderOptions) (r *Recorder, dataDir string, logs *recorder) {
	t.Helper()
	testutil.CheckNoGoroutineLeak(t)
	logs = new(recorder)
	opts.Logger = slog.New(logs)
	dataDir = t.TempDir()
	return NewRecorder(dataDir, opts), dataDir, logs
}

func TestRecorderFlush(t *testing.T) {
	r, dataDir, logs := newTestRecorder(t, RecorderOptions{})
	ctx := context.Background()
	a := &registry.Server{Name: "a", Command: "a"}
	if got, err := r.LoadCatalogues(ctx, []*registry.Server{a}); len(got) != 0 || err != nil {
		t.Errorf("LoadCatalogues before any flush = %v, %v; want none, nil", got, err)
	}
	if _, err := os.Stat(Dir(dataDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reading a missing store created it: %v", err)
	}

	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	r.SetState(ServerState{Server: "a", State: StateStarting, Since: at})
	r.SetState(ServerState{Server: "a", State: StateReady, Since: at.Add(time.Second), PID: 42})
	r.SaveCatalogue(a, registry.Catalogue{Tools: []json.RawMessage{json.RawMessage(`{"name":"t"}`)}, Fetched: at})
	r.RecordCall("a", "t", time.Millisecond, false)
	r.RecordCall("a", "t", time.Millisecond, true)
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("Flush() = %v", err)
	}
	if err := r.Flush(ctx); err != nil { // nothing to write: no store opened
		t.Fatalf("second Flush() = %v", err)
	}

	got, err := r.LoadCatalogues(ctx, []*registry.Server{a, {Name: "b", Command: "b"}})
	if err != nil || len(got) != 1 || got["a"] == nil || got["a"].Fingerprint != a.Fingerprint() {
		t.Errorf("LoadCatalogues = %+v, %v; want a's, with its fingerprint", got, err)
	}
	changed := &registry.Server{Name: "a", Command: "a", Args: []string{"--other"}}
	if got, err := r.LoadCatalogues(ctx, []*registry.Server{changed}); len(got) != 0 || err != nil {
		t.Errorf("LoadCatalogues with changed args = %+v, %v; want none: the cache is stale", got, err)
	}
	s := openTestStore(t, Dir(dataDir), Options{ReadOnly: true})
	checkStats(t, s, "a", map[string][2]int64{"t": {2, 1}})
	events, err := s.History("a", 0)
	if err != nil || len(events) != 1 || events[0].Kind != EventConnected {
		t.Errorf("History(a) = %+v, %v; want one connected event", events, err)
	}
	states, err := s.States()
	if want := os.Getpid(); err != nil || states["a"].PID != 42 || states["a"].MuxPID != want {
		t.Errorf("States() = %+v, %v; want a with PID 42, MuxPID %d", states, err, want)
	}
	if msgs := logs.atLeast(slog.LevelWarn); len(msgs) != 0 {
		t.Errorf("logged %q, want no warnings", msgs)
	}
}

// While another process holds the store, writes wait in memory, the
// oldest events beyond MaxPendingEvents being dropped with one warning.
func TestRecorderKeepsWhileLocked(t *testing.T) {
	r, dataDir, logs := newTestRecorder(t, RecorderOptions{LockWait: 50 * time.Millisecond, MaxPendingEvents: 3})
	ctx := context.Background()
	held := openTestStore(t, Dir(dataDir), Options{})
	for i := range 3 { // six events: connected, stopped, ...
		r.SetState(ServerState{Server: "a", State: StateReady, Since: time.Unix(int64(2*i), 0)})
		r.SetState(ServerState{Server: "a", State: StateStopped, Since: time.Unix(int64(2*i+1), 0)})
	}
	r.RecordCall("a", "t", time.Millisecond, false)
	if err := r.Flush(ctx); !errors.Is(err, ErrLocked) {
		t.Fatalf("Flush() while locked = %v, want ErrLocked", err)
	}
	r.RecordCall("a", "t", time.Millisecond, false)
	r.SetState(ServerState{Server: "a", State: StateReady, Since: time.Unix(6, 0)})
	if err := r.Flush(ctx); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Flush() while locked = %v, want ErrLocked", err)
	}
	if msgs := logs.atLeast(slog.LevelWarn); len(msgs) != 1 || !strings.Contains(msgs[0], "dropping") {
		t.Errorf("logged %q, want one warning about dropping events", msgs)
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("Flush() after release = %v", err)
	}
	s := openTestStore(t, Dir(dataDir), Options{ReadOnly: true})
	checkStats(t, s, "a", map[string][2]int64{"t": {2, 0}})
	events, err := s.History("a", 0)
	var times []int64
	for _, e := range events {
		times = append(times, e.Time.Unix())
	}
	if err != nil || !reflect.DeepEqual(times, []int64{6, 6, 5}) {
		t.Errorf("History(a) times = %v, %v; want the newest three, [6 6 5] (restart, connected, stopped)", times, err)
	}
}

// A store that cannot be read is moved aside at start-up, with one
// warning, and the recorder writes to a fresh one.
func TestRecorderCorruptStore(t *testing.T) {
	r, dataDir, logs := newTestRecorder(t, RecorderOptions{})
	ctx := context.Background()
	a := &registry.Server{Name: "a", Command: "a"}
	r.SaveCatalogue(a, registry.Catalogue{Instructions: "old"})
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(Dir(dataDir), "MANIFEST"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The snapshot still serves, without the store.
	if got, err := r.LoadCatalogues(ctx, []*registry.Server{a}); err != nil || got["a"] == nil || got["a"].Instructions != "old" {
		t.Errorf("LoadCatalogues(corrupt store, snapshot) = %+v, %v; want the old one, from the snapshot", got, err)
	}
	if aside, _ := filepath.Glob(Dir(dataDir) + ".corrupt-*"); len(aside) != 0 {
		t.Errorf("moved aside: %q, want nothing: the store was not read", aside)
	}
	if err := os.Remove(snapshotPath(dataDir)); err != nil {
		t.Fatal(err)
	}
	if got, err := r.LoadCatalogues(ctx, []*registry.Server{a}); len(got) != 0 || err != nil {
		t.Errorf("LoadCatalogues(corrupt store) = %+v, %v; want none, nil", got, err)
	}
	if aside, _ := filepath.Glob(Dir(dataDir) + ".corrupt-*"); len(aside) != 1 {
		t.Errorf("moved aside: %q, want one copy", aside)
	}
	r.SaveCatalogue(a, registry.Catalogue{Instructions: "new"})
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := r.LoadCatalogues(ctx, []*registry.Server{a}); err != nil || got["a"] == nil || got["a"].Instructions != "new" {
		t.Errorf("LoadCatalogues = %+v, %v; want the new one", got, err)
	}
	if msgs := logs.atLeast(slog.LevelWarn); len(msgs) != 1 {
		t.Errorf("logged %q, want one warning", msgs)
	}
}

func TestRecorderRun(t *testing.T) {
	r, dataDir, logs := newTestRecorder(t, RecorderOptions{FlushInterval: 20 * time.Millisecond})
	// Another instance that runs (the test's parent process stands in for
	// it), and one that is gone.
	other := Instance{PID: os.Getppid(), Heartbeat: time.Now()}
	gone := Instance{PID: deadPID(t), Heartbeat: time.Now()}
	for _, inst := range []Instance{other, gone} {
		if err := writeInstance(dataDir, inst); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	r.SetState(ServerState{Server: "a", State: StateReady, Since: time.Now()})
	self := waitInstance(t, dataDir, func(inst Instance) bool {
		return inst.PID == os.Getpid() && len(inst.Servers) == 1 && inst.Servers[0].State == StateReady
	})
	if !self.Running(time.Now()) {
		t.Errorf("own instance %+v is not running", self)
	}
	r.SetState(ServerState{Server: "a", State: StateStopped, Since: time.Now()})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v", err)
	}

	insts, err := Instances(dataDir)
	if err != nil || len(insts) != 1 || insts[0].PID != other.PID {
		t.Errorf("Instances() after Run = %+v, %v; want only the other running one", insts, err)
	}
	msgs := logs.atLeast(slog.LevelWarn)
	if len(msgs) != 1 || !strings.Contains(msgs[0], "shared") {
		t.Errorf("logged %q, want one warning about sharing", msgs)
	}
	events, err := NewHandle(dataDir, HandleOptions{}).History(context.Background(), "a", 0)
	if err != nil || len(events) != 2 || events[0].Kind != EventStopped {
		t.Errorf("ReadHistory(a) = %+v, %v; want connected, then stopped, flushed at the end", events, err)
	}
}

// waitInstance polls the live files of dataDir until one satisfies ok.
func waitInstance(t *testing.T, dataDir string, ok func(Instance) bool) Instance {
	t.Helper()
	var insts []Instance
	var found Instance
	match := func() bool {
		var err error
		if insts, err = Instances(dataDir); err != nil {
			t.Fatal(err)
		}
		for _, inst := range insts {
			if ok(inst) {
				found = inst
				return true
			}
		}
		return false
	}
	if !testutil.Await(match) {
		t.Fatalf("no live instance as wanted; have %+v", insts)
	}
	return found
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestInstanceRunning(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name string
		inst Instance
		want bool
	}{
		{"fresh", Instance{PID: os.Getpid(), Heartbeat: now.Add(-time.Second)}, true},
		{"stale heartbeat", Instance{PID: os.Getpid(), Heartbeat: now.Add(-LiveWindow)}, false},
		{"process gone", Instance{PID: deadPID(t), Heartbeat: now}, false},
		{"no pid", Instance{Heartbeat: now}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.inst.Running(now); got != tt.want {
				t.Errorf("Running() = %t, want %t", got, tt.want)
			}
		})
	}
}

func TestUseStoreWaitsWhileLocked(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	dir := filepath.Join(t.TempDir(), "store")
	held := openTestStore(t, dir, Options{})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := Use(ctx, dir, Options{ReadOnly: true}, func(*DB) error { return nil })
	if !errors.Is(err, ErrLocked) {
		t.Errorf("Use while held = %v, want ErrLocked", err)
	}

	time.AfterFunc(100*time.Millisecond, func() { held.Close() })
	ctx, cancel = context.WithTimeout(context.Background(), 60*time.Second) // a hang guard
	defer cancel()
	called := false
	err = Use(ctx, dir, Options{}, func(*DB) error { called = true; return nil })
	if err != nil || !called {
		t.Errorf("Use once released = %v, called %t; want nil, true", err, called)
	}
}

func TestSummarize(t *testing.T) {
	testutil.CheckNoGoroutineLeak(t)
	dataDir := t.TempDir()
	now := time.Now()
	a := &registry.Server{Name: "a", Command: "a"}
	b := &registry.Server{Name: "b", Command: "b"}
	c := &registry.Server{Name: "c", Command: "c", Disabled: true}
	if got, err := NewHandle(dataDir, HandleOptions{}).Summarize(context.Background(), []*registry.Server{a}, now); err != nil || len(got) != 1 || got[0].State != nil {
		t.Errorf("Summarize(empty data dir) = %+v, %v; want a without state", got, err)
	}

	batch := Batch{
		Catalogues: map[string]registry.Catalogue{
			"a": {Tools: make([]json.RawMessage, 3), Prompts: make([]json.RawMessage, 1), Fetched: now, Fingerprint: a.Fingerprint()},
			"b": {Tools: make([]json.RawMessage, 2), Fetched: now, Fingerprint: "old"},
		},
		States: map[string]ServerState{
			"a": {Server: "a", State: StateStopped, Since: now},
			"b": {Server: "b", State: StateBackoff, Since: now, LastError: "exit status 1"},
		},
		Events: []Event{
			{Server: "a", Kind: EventRestart, Time: now.Add(-25 * time.Hour)},
			{Server: "a", Kind: EventRestart, Time: now.Add(-time.Hour)},
			{Server: "a", Kind: EventConnected, Time: now.Add(-time.Hour)},
		},
	}
	batch.addCall("a", "x", CallStats{Calls: 3, Errors: 1})
	batch.addCall("a", "y", CallStats{Calls: 1})
	err := Use(context.Background(), Dir(dataDir), Options{}, func(s *DB) error { return s.Write(&batch) })
	if err != nil {
		t.Fatal(err)
	}
	live := Instance{PID: os.Getpid(), Heartbeat: now, Servers: []ServerState{{Server: "a", State: StateReady, Since: now}}}
	if err := writeInstance(dataDir, live); err != nil {
		t.Fatal(err)
	}

	got, err := NewHandle(dataDir, HandleOptions{}).Summarize(context.Background(), []*registry.Server{a, b, c}, now)
	if err != nil || len(got) != 3 {
		t.Fatalf("Summarize() = %+v, %v; want three summaries", got, err)
	}
	if s := got[0]; !s.Live || s.State.State != StateReady || s.RestartsLastDay != 1 || s.Tools != 3 ||
		s.Prompts != 1 || s.Stale || s.Calls.Calls != 4 || s.Calls.Errors != 1 || s.ErrorRate() != 0.25 {
		t.Errorf("Summarize()[a] = %+v; want live, ready, 1 restart, 3 tools, 1 prompt, 4 calls, 1 error", s)
	}
	if s := got[1]; s.Live || s.State.LastError != "exit status 1" || !s.Stale || s.Tools != 2 {
		t.Errorf("Summarize()[b] = %+v; want last known backoff, stale catalogue of 2 tools", s)
	}
	if s := got[2]; !s.Disabled || s.State != nil {
		t.Errorf("Summarize()[c] = %+v; want disabled, no state", s)
	}
}

// BenchmarkLoadCatalogues measures what start-up pays to read the cached
// catalogues of 20 servers: a read-only open, 20 reads, a close.
func BenchmarkLoadCatalogues(b *testing.B) {
	// What serve pays: the snapshot, read in process.
	b.Run("snapshot", func(b *testing.B) { benchmarkLoadCatalogues(b, testChild(), true) })
	// Without a snapshot, the store is read, in this process or (as serve
	// does) by a child process: the test binary, as it is mcpmux itself in
	// serve.
	b.Run("store in process", func(b *testing.B) { benchmarkLoadCatalogues(b, nil, false) })
	b.Run("store in child", func(b *testing.B) { benchmarkLoadCatalogues(b, testChild(), false) })
}

func benchmarkLoadCatalogues(b *testing.B, child *Child, snapshot bool) {
	dataDir := b.TempDir()
	r := NewRecorder(dataDir, RecorderOptions{Child: child})
	tool := json.RawMessage(`{"name":"tool","description":"Does a thing","inputSchema":{"type":"object","properties":{"q":{"type":"string"}}}}`)
	var servers []*registry.Server
	for i := range 20 {
		srv := &registry.Server{Name: fmt.Sprint(i), Command: "x"}
		servers = append(servers, srv)
		c := registry.Catalogue{Tools: make([]json.RawMessage, 20), Fetched: time.Now()}
		for j := range c.Tools {
			c.Tools[j] = tool
		}
		r.SaveCatalogue(srv, c)
	}
	if err := r.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	if !snapshot {
		if err := os.Remove(snapshotPath(dataDir)); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		got, err := r.LoadCatalogues(context.Background(), servers)
		if err != nil || len(got) != 20 {
			b.Fatalf("LoadCatalogues = %d catalogues, %v", len(got), err)
		}
	}
}

// A catalogue is written as soon as it arrives, not at the next flush: a
// one-shot client's session is over long before that.
func TestRecorderWritesCataloguesAtOnce(t *testing.T) {
	r, dataDir, _ := newTestRecorder(t, RecorderOptions{FlushInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	}()

	a := &registry.Server{Name: "a", Command: "a"}
	r.SaveCatalogue(a, registry.Catalogue{Tools: []json.RawMessage{json.RawMessage(`{"name":"t"}`)}, Fetched: time.Now()})
	reader := NewRecorder(dataDir, RecorderOptions{})
	var got map[string]*registry.Catalogue
	var err error
	if !testutil.Await(func() bool {
		got, err = reader.LoadCatalogues(context.Background(), []*registry.Server{a})
		return err == nil && got["a"] != nil
	}) {
		t.Fatalf("catalogue not in the store after it arrived (flush interval 1h): %v, %v", got, err)
	}
}

// The last flush of Run is bounded (FinalWait): what it cannot write, here
// because another mcpmux holds the store, it keeps in a spill file in the
// data directory, which the next write to the store takes in.
func TestRecorderLastFlushSpills(t *testing.T) {
	r, dataDir, _ := newTestRecorder(t, RecorderOptions{LockWait: 50 * time.Millisecond, FlushInterval: time.Hour})
	held := openTestStore(t, Dir(dataDir), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	r.SetState(ServerState{Server: "a", State: StateReady, Since: time.Unix(1, 0)})
	r.RecordCall("a", "t", time.Millisecond, false)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v, want nil: nothing is lost", err)
	}
	r.Wait()
	files := spills(dataDir)
	if len(files) != 1 {
		t.Fatalf("spill files = %v, want 1", files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("spill file %s: %v, %v; want mode 0600", files[0], fi.Mode(), err)
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}

	next := NewRecorder(dataDir, RecorderOptions{})
	if err := next.Flush(context.Background()); err != nil {
		t.Fatalf("Flush() = %v", err)
	}
	if files := spills(dataDir); len(files) != 0 {
		t.Errorf("spill files left after the next write: %v", files)
	}
	s := openTestStore(t, Dir(dataDir), Options{ReadOnly: true})
	checkStats(t, s, "a", map[string][2]int64{"t": {1, 0}})
	events, err := s.History("a", 10)
	if err != nil || len(events) != 1 || events[0].Kind != EventConnected {
		t.Errorf("history of a = %+v, %v; want the connected event", events, err)
	}
}
