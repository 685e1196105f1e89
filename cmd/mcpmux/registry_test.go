package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/registry/store"
)

// prime runs mcpmux with config until want is listed, so that the
// catalogues are cached in dataDir.
func prime(t *testing.T, config, dataDir string, want ...string) {
	t.Helper()
	m := serveInProcess(t, "--config", config, "--data-dir", dataDir)
	m.waitTools(want...)
	m.stop()
}

// With a cached catalogue, mcpmux lists an upstream's tools at once while
// the upstream is still starting; calls wait for it; and its live
// catalogue replaces the cached one when it arrives. The upstream starts
// only when the test opens its gate: no timing involved.
func TestServeCachedCatalogue(t *testing.T) {
	testutil.CheckNoChildren(t)
	testutil.CheckNoGoroutineLeak(t)
	dataDir := t.TempDir()
	config := writeConfig(t, map[string]any{"a": testutil.TestServer(t, "-name", "a")})
	prime(t, config, dataDir, "a__echo")

	// The same configuration, but the upstream now waits for the gate and
	// has more tools: TESTSERVER_ARGS is mcpmux's environment, not the
	// server's configuration, so the cache stays valid.
	gate := filepath.Join(t.TempDir(), "gate")
	t.Setenv("TESTSERVER_ARGS", "-start-gate "+gate+" -tools 2")
	m := serveInProcess(t, "--config", config, "--data-dir", dataDir)
	tools := m.tools()
	prompts := names(t, m.request(60*time.Second, "prompts/list", nil), "prompts", "name")
	resources := names(t, m.request(60*time.Second, "resources/list", nil), "resources", "uri")
	// Answered from the cache, not by the upstream, which cannot have
	// started. (How fast: BenchmarkStartupToFirstToolsList.)
	if !slices.Contains(tools, "a__echo") || slices.Contains(tools, "a__tool_0000") {
		t.Errorf("first tools/list = %q, want the cached tools (a__echo, no a__tool_0000)", tools)
	}
	if st := upstreamStatus(m.muxClient, "a"); st.State != "starting" {
		t.Errorf("upstream a is %s after the first lists, want still starting (its gate is shut)", st.State)
	}
	if len(prompts) == 0 || len(resources) == 0 {
		t.Errorf("cached prompts %q, resources %q; want some of each", prompts, resources)
	}

	// A call made while the upstream starts waits for it.
	answered := make(chan string, 1)
	go func() { answered <- m.call(60*time.Second, "a__echo", map[string]any{"message": "hi"}) }()
	testutil.WaitFor(t, "the call to wait for the upstream", func() bool {
		return strings.Contains(m.stderr.String(), "a__echo") || len(answered) > 0
	})
	select {
	case got := <-answered:
		t.Fatalf("a__echo = %q before the upstream could start", got)
	default:
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := <-answered; got != "hi" {
		t.Errorf("a__echo during start-up = %q, want hi", got)
	}
	m.waitNote("notifications/tools/list_changed", 60*time.Second)
	if tools := m.tools(); !slices.Contains(tools, "a__tool_0001") {
		t.Errorf("tools/list after list_changed = %q, want the live tools", tools)
	}
}

// A cached catalogue read with another configuration is not served: the
// first list waits for the live one.
func TestServeConfigChangeInvalidatesCache(t *testing.T) {
	testutil.CheckNoChildren(t)
	testutil.CheckNoGoroutineLeak(t)
	dataDir := t.TempDir()
	prime(t, writeConfig(t, map[string]any{"a": testutil.TestServer(t, "-name", "a")}), dataDir, "a__echo")

	t.Setenv("TESTSERVER_ARGS", "-start-delay 1s")
	m := serveInProcess(t, "--config", writeConfig(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-tools", "1")}), "--data-dir", dataDir)
	if tools := m.tools(); !slices.Contains(tools, "a__tool_0000") {
		t.Errorf("first tools/list after a config change = %q, want the live catalogue, with a__tool_0000", tools)
	}
}

// A lazy server with a cached catalogue starts on its first call and stops
// when idle; without a cached catalogue it starts at once.
func TestServeLazy(t *testing.T) {
	testutil.CheckNoChildren(t)
	testutil.CheckNoGoroutineLeak(t)
	dataDir := t.TempDir()
	entry := testutil.TestServer(t, "-name", "a")
	entry["lazy"], entry["idleTimeout"] = true, "300ms"
	config := writeConfig(t, map[string]any{"a": entry})
	prime(t, config, dataDir, "a__echo") // no cache yet: started at once

	m := serveInProcess(t, "--config", config, "--data-dir", dataDir)
	if tools := m.tools(); !slices.Contains(tools, "a__echo") {
		t.Fatalf("tools/list = %q, want the cached a__echo", tools)
	}
	if st := upstreamStatus(m.muxClient, "a"); st.State != "idle" || st.PID != 0 {
		t.Fatalf("status before any call = %+v, want idle without a process", st)
	}
	// The first call starts the upstream; while it runs, the upstream is
	// busy, not idle.
	var wg sync.WaitGroup
	wg.Go(func() {
		if got := m.call(10*time.Second, "a__slow", map[string]any{"ms": 500}); got != "slept 500 ms" {
			t.Errorf("a__slow = %q, want slept 500 ms", got)
		}
	})
	var pid int
	testutil.WaitFor(t, "the upstream to start on use", func() bool {
		st := upstreamStatus(m.muxClient, "a")
		pid = st.PID
		return st.State == "ready" && st.PID != 0
	})
	wg.Wait()
	testutil.WaitFor(t, "the idle upstream to stop", func() bool {
		return upstreamStatus(m.muxClient, "a").State == "idle" && !testutil.Alive(pid)
	})
}

// upstreamStatus reads the status of server from mcpmux://status.
func upstreamStatus(m *muxClient, server string) (st muxStatus) {
	m.tb.Helper()
	res := m.request(5*time.Second, "resources/read", map[string]any{"uri": "mcpmux://status"})
	var r struct{ Contents []struct{ Text string } }
	if err := json.Unmarshal(res, &r); err != nil || len(r.Contents) == 0 {
		m.tb.Fatalf("reading mcpmux://status: %v %s", err, res)
	}
	var status struct {
		Upstreams []struct {
			Server, State, LastError string
			PID                      int
		}
	}
	if err := json.Unmarshal([]byte(r.Contents[0].Text), &status); err != nil {
		m.tb.Fatalf("decoding mcpmux://status: %v", err)
	}
	for _, u := range status.Upstreams {
		if u.Server == server {
			return muxStatus{u.State, u.PID, u.LastError}
		}
	}
	m.tb.Fatalf("mcpmux://status has no %q: %s", server, r.Contents[0].Text)
	return st
}

// muxStatus is what mcpmux://status says of one upstream.
type muxStatus struct {
	State     string
	PID       int
	LastError string
}

// Two mcpmux processes on one data directory both serve fully and both
// record to the store; the second warns once that it shares it.
func TestServeTwoInstances(t *testing.T) {
	testutil.CheckNoChildren(t)
	dataDir := t.TempDir()
	config := writeConfig(t, map[string]any{"a": testutil.TestServer(t, "-name", "a"), "b": testutil.TestServer(t, "-name", "b")})
	args := []string{"--config", config, "--data-dir", dataDir}

	first := serveProcess(t, nil, args...)
	first.waitTools("a__echo", "b__echo")
	testutil.WaitFor(t, "the first instance's heartbeat", func() bool {
		insts, _ := store.Instances(dataDir)
		return len(insts) == 1 && insts[0].PID == first.cmd.Process.Pid
	})
	second := serveProcess(t, nil, args...)
	second.waitTools("a__echo", "b__echo")

	// Both serve, and record calls, through several flushes each, while
	// status reads the store again and again. On a busy machine the two
	// instances may hold the store longer than status waits for it: then
	// status says so and shows what it could read, which counts as busy,
	// not failed; at least one read must be complete.
	stopReading := make(chan struct{})
	var reader sync.WaitGroup
	reader.Go(func() {
		complete, busy := 0, 0
		defer func() {
			t.Logf("status read the store %d times meanwhile, %d more found it busy", complete, busy)
			if complete == 0 {
				t.Errorf("status never read the store in full while two instances ran")
			}
		}()
		for {
			select {
			case <-stopReading:
				return
			case <-time.After(50 * time.Millisecond):
			}
			var stdout, stderr testutil.SyncBuffer
			err := run(context.Background(), []string{"status", "--json", "--config", config, "--data-dir", dataDir}, nil, &stdout, &stderr)
			switch {
			case err == nil && stderr.String() == "":
				complete++
			case err == nil && (strings.Contains(stderr.String(), store.ErrLocked.Error()) || strings.Contains(stderr.String(), context.DeadlineExceeded.Error())):
				busy++ // status waited its readTimeout for the store
			default:
				t.Errorf("status while two instances run = %v\n%s", err, stderr.String())
			}
		}
	})
	callBoth := func(n int) {
		for i := range n {
			for _, m := range []*process{first, second} {
				if got, want := m.call(10*time.Second, "a__add", map[string]any{"a": i, "b": 1}), fmt.Sprint(i+1); got != want {
					t.Fatalf("a__add(%d, 1) = %q, want %q", i, got, want)
				}
			}
		}
	}
	callBoth(10)
	testutil.WaitFor(t, "both instances to flush their calls", func() bool {
		return storedCalls(t, dataDir, "a") == 20
	})
	callBoth(10) // written by the last flushes, at exit
	close(stopReading)
	reader.Wait()
	first.stop()
	second.stop()
	settle(t, dataDir)

	if w := warnings(first.stderr); len(w) != 0 {
		t.Errorf("first instance warned: %q", w)
	}
	if w := warnings(second.stderr); len(w) != 1 || !strings.Contains(w[0], "shared") {
		t.Errorf("second instance warned %q, want one warning that the data directory is shared", w)
	}
	s, err := store.Open(store.Dir(dataDir), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("opening the store afterwards: %v", err)
	}
	defer s.Close()
	events, err := s.History("a", 0)
	kinds := map[store.EventKind]int{}
	for _, e := range events {
		kinds[e.Kind]++
	}
	if err != nil || kinds[store.EventConnected] != 2 || kinds[store.EventStopped] != 2 {
		t.Errorf("history of a = %v, %v; want two connects and two stops, one of each instance", kinds, err)
	}
	stats, err := s.ToolStats("a")
	if err != nil || stats["add"].Calls != 40 {
		t.Errorf("ToolStats(a)[add] = %+v, %v; want the 40 calls of both instances", stats["add"], err)
	}
}

// settle waits until the store of dataDir holds what the mcpmux that
// wrote to it last recorded: its last write may go on after it exited,
// and what that does not write is in a spill file, which a write takes
// in (see store.Recorder.FinalWait).
func settle(t *testing.T, dataDir string) {
	t.Helper()
	h := store.NewHandle(dataDir, store.HandleOptions{})
	waitStoreWrites(t)
	testutil.WaitFor(t, "the last writes in the store", func() bool {
		if spilled, _ := filepath.Glob(filepath.Join(dataDir, "spill-*.json")); len(spilled) > 0 {
			_ = h.Write(context.Background(), &store.Batch{})
			return false
		}
		s, err := store.Open(store.Dir(dataDir), store.Options{ReadOnly: true})
		if err != nil {
			return false
		}
		return s.Close() == nil
	})
}

// storedCalls returns how many calls to server the store of dataDir holds,
// -1 if the store is busy (held by other processes) for now.
func storedCalls(t *testing.T, dataDir, server string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sums, err := store.NewHandle(dataDir, store.HandleOptions{}).Summarize(ctx, []*registry.Server{{Name: server}}, time.Now())
	switch {
	case errors.Is(err, store.ErrLocked):
		return -1
	case err != nil:
		t.Fatalf("reading the store: %v", err)
	}
	return sums[0].Calls.Calls
}

// No damaged, unreadable or foreign file in the data directory crashes or
// hangs serve, status or history: the store is moved aside with one
// warning that names it, and mcpmux serves and records as usual. A data
// directory that cannot be used at all costs one warning per run.
func TestServeDamagedDataDir(t *testing.T) {
	testutil.CheckNoChildren(t)
	config := writeConfig(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-tools", "1500")}) // its catalogue fills the value log
	primed := t.TempDir()
	prime(t, config, primed, "a__echo", "a__tool_1499")
	storeFiles := func(suffix string, fn func(*os.File) error) func(t *testing.T, dataDir string) {
		return func(t *testing.T, dataDir string) {
			names, _ := filepath.Glob(filepath.Join(store.Dir(dataDir), "*"+suffix))
			if len(names) == 0 {
				t.Fatalf("no %s file in the primed store", suffix)
			}
			for _, name := range names {
				f, err := os.OpenFile(name, os.O_RDWR, 0)
				if err == nil {
					err = errors.Join(fn(f), f.Close())
				}
				if err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	noSnapshot := func(damage func(t *testing.T, dataDir string)) func(t *testing.T, dataDir string) {
		return func(t *testing.T, dataDir string) {
			if err := os.Remove(filepath.Join(dataDir, "catalogues.json")); err != nil {
				t.Fatal(err)
			}
			damage(t, dataDir)
		}
	}
	writeAt := func(off int64, data []byte) func(*os.File) error {
		return func(f *os.File) error { _, err := f.WriteAt(data, off); return err }
	}
	tests := []struct {
		name    string
		damage  func(t *testing.T, dataDir string)
		warning string // what the one warning says; "" for none
		moved   bool   // the store is moved aside
	}{
		// The snapshot of the catalogues beside the store is read in
		// process: a bad one is ignored, and the store serves.
		{"garbage snapshot", func(t *testing.T, dataDir string) {
			if err := os.WriteFile(filepath.Join(dataDir, "catalogues.json"), bytes.Repeat([]byte{0xde, 0xad}, 100), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "", false},
		{"truncated snapshot", func(t *testing.T, dataDir string) {
			if err := os.Truncate(filepath.Join(dataDir, "catalogues.json"), 100); err != nil {
				t.Fatal(err)
			}
		}, "", false},
		// With a good snapshot, serve starts without reading the store,
		// and finds the damage when it first writes.
		{"truncated sst beside a snapshot", storeFiles(".sst", func(f *os.File) error { return f.Truncate(100) }), "moved aside", true},
		// The rest without a snapshot (as an older mcpmux left the data
		// directory), so that serve reads the store at start-up.
		{"truncated sst", noSnapshot(storeFiles(".sst", func(f *os.File) error { return f.Truncate(100) })), "moved aside", true},
		{"garbage in sst", noSnapshot(storeFiles(".sst", writeAt(300, bytes.Repeat([]byte{0xde, 0xad}, 100)))), "moved aside", true},
		{"zeroed sst header", noSnapshot(storeFiles(".sst", writeAt(0, make([]byte, 64)))), "moved aside", true},
		{"truncated vlog", noSnapshot(storeFiles(".vlog", func(f *os.File) error {
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			return f.Truncate(fi.Size() / 2)
		})), "moved aside", true},
		{"bad MANIFEST", noSnapshot(func(t *testing.T, dataDir string) {
			if err := os.WriteFile(filepath.Join(store.Dir(dataDir), "MANIFEST"), []byte("this is not a Badger manifest"), 0o600); err != nil {
				t.Fatal(err)
			}
		}), "moved aside", true},
		{"read-only data dir", func(t *testing.T, dataDir string) {
			readOnly(t, dataDir, store.Dir(dataDir), filepath.Join(dataDir, "live"))
		}, "writing to the store", false},
		{"file as data dir", func(t *testing.T, dataDir string) {
			if err := os.RemoveAll(dataDir); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dataDir, []byte("not a directory"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "running without the registry", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.CheckNoGoroutineLeak(t)
			dataDir := filepath.Join(t.TempDir(), "data")
			if err := os.CopyFS(dataDir, os.DirFS(primed)); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, dataDir)

			m := serveInProcess(t, "--config", config, "--data-dir", dataDir)
			m.waitTools("a__echo")
			if got := m.call(10*time.Second, "a__echo", map[string]any{"message": "hi"}); got != "hi" {
				t.Errorf("a__echo = %q, want hi", got)
			}
			m.stop()
			w := warnings(m.stderr)
			aside, _ := filepath.Glob(store.Dir(dataDir) + ".corrupt-*")
			if tt.name == "truncated vlog" && len(w) == 0 && len(aside) == 0 {
				// On a loaded machine serve may write before its read of
				// the store is done, and Badger, opening for writing,
				// cuts the value log back to its last whole record: the
				// store is whole again, and nothing needs moving.
				t.Logf("the store healed itself")
				tt.warning, tt.moved = "", false
			}
			switch {
			case tt.warning == "" && len(w) != 0:
				t.Errorf("serve warned %q, want no warning", w)
			case tt.warning != "" && (len(w) != 1 || !strings.Contains(w[0], tt.warning) || !strings.Contains(w[0], dataDir)):
				t.Errorf("serve warned %q, want one warning that says %q and names %s", w, tt.warning, dataDir)
			}
			if tt.moved != (len(aside) == 1) || len(aside) > 1 {
				t.Errorf("copies moved aside = %q, want %d", aside, map[bool]int{true: 1}[tt.moved])
			}
			if data, err := os.ReadFile(config); err != nil || !strings.Contains(string(data), "mcpServers") {
				t.Errorf("config afterwards = %q, %v; want it untouched", data, err)
			}

			// status and history run, and say what they can, with one
			// warning at most.
			for _, args := range [][]string{
				{"status", "--json", "--config", config, "--data-dir", dataDir},
				{"history", "a", "--json", "--data-dir", dataDir},
			} {
				stderr, err := runQuiet(t, args...)
				if err != nil && tt.name != "file as data dir" {
					t.Errorf("mcpmux %s = %v, want it to run", args[0], err)
				}
				if w := warnings(stderr); len(w) > 1 {
					t.Errorf("mcpmux %s warned %q, want one warning at most", args[0], w)
				}
			}
			if tt.moved {
				out := runCommand(t, "history", "a", "--data-dir", dataDir, "--json")
				var events []store.Event
				if err := json.Unmarshal([]byte(out), &events); err != nil || len(events) != 2 {
					t.Errorf("history of a in the fresh store = %s, %v; want this run's connect and stop", out, err)
				}
			}
		})
	}
}

// A damaged store found by status or history, before any serve: the
// command runs, and the store is moved aside once, with one warning that
// names it.
func TestReadDamagedStore(t *testing.T) {
	testutil.CheckNoChildren(t)
	config := writeConfig(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-tools", "1500")})
	primed := t.TempDir()
	prime(t, config, primed, "a__echo", "a__tool_1499")
	damages := map[string]func(t *testing.T, storeDir string){
		"truncated sst": func(t *testing.T, storeDir string) {
			names, _ := filepath.Glob(filepath.Join(storeDir, "*.sst"))
			for _, name := range names {
				if err := os.Truncate(name, 100); err != nil {
					t.Fatal(err)
				}
			}
		},
		"bad MANIFEST": func(t *testing.T, storeDir string) {
			if err := os.WriteFile(filepath.Join(storeDir, "MANIFEST"), []byte("not a manifest"), 0o600); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, damage := range damages {
		for _, cmd := range [][]string{{"status", "--config", config}, {"history", "a"}} {
			t.Run(name+"/"+cmd[0], func(t *testing.T) {
				testutil.CheckNoGoroutineLeak(t)
				dataDir := filepath.Join(t.TempDir(), "data")
				if err := os.CopyFS(dataDir, os.DirFS(primed)); err != nil {
					t.Fatal(err)
				}
				damage(t, store.Dir(dataDir))
				stderr, err := runQuiet(t, append(cmd, "--data-dir", dataDir)...)
				if err != nil {
					t.Errorf("mcpmux %s = %v, want it to run", cmd[0], err)
				}
				if w := warnings(stderr); len(w) != 1 || !strings.Contains(w[0], "moved aside") || !strings.Contains(w[0], store.Dir(dataDir)) {
					t.Errorf("mcpmux %s warned %q, want one warning that names the store moved aside", cmd[0], w)
				}
				if aside, _ := filepath.Glob(store.Dir(dataDir) + ".corrupt-*"); len(aside) != 1 {
					t.Errorf("copies moved aside = %q, want 1", aside)
				}
				// Once is enough: the next run finds a fresh store.
				if stderr, _ := runQuiet(t, append(cmd, "--data-dir", dataDir)...); len(warnings(stderr)) != 0 {
					t.Errorf("second mcpmux %s warned %q, want nothing", cmd[0], warnings(stderr))
				}
			})
		}
	}
}

// runQuiet runs one mcpmux command line in this process, and returns what
// it logged and its error.
func runQuiet(t *testing.T, args ...string) (*testutil.SyncBuffer, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	var stdout, stderr testutil.SyncBuffer
	err := run(ctx, args, strings.NewReader(""), &stdout, &stderr)
	t.Logf("mcpmux %s = %v\n%s%s", args[0], err, stdout.String(), stderr.String())
	return &stderr, err
}

// The registry lives in the user's state directory unless --data-dir says
// otherwise; --no-registry runs without one.
func TestServeDataDir(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("XDG layout is for Linux")
	}
	testutil.CheckNoChildren(t)
	testutil.CheckNoGoroutineLeak(t)
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	config := writeConfig(t, map[string]any{"a": testutil.TestServer(t, "-name", "a")})
	tests := []struct {
		name  string
		args  []string
		store string // where the store must be afterwards; "" for nowhere
	}{
		{"no registry", []string{"--no-registry"}, ""},
		{"default", nil, filepath.Join(state, "mcpmux", "store")},
		{"data dir", []string{"--data-dir", filepath.Join(state, "elsewhere")}, filepath.Join(state, "elsewhere", "store")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := filepath.Glob(filepath.Join(state, "*"))
			m := serveInProcess(t, append([]string{"--config", config}, tt.args...)...)
			m.waitTools("a__echo")
			m.call(10*time.Second, "a__echo", map[string]any{"message": "hi"})
			m.stop()
			after, _ := filepath.Glob(filepath.Join(state, "*"))
			if tt.store == "" {
				if !slices.Equal(before, after) {
					t.Errorf("--no-registry wrote to the state directory: %q, was %q", after, before)
				}
				return
			}
			s, err := store.Open(tt.store, store.Options{ReadOnly: true})
			if err != nil {
				t.Fatalf("opening the store: %v", err)
			}
			defer s.Close()
			if _, ok, err := s.LoadCatalogue("a"); !ok || err != nil {
				t.Errorf("LoadCatalogue(a) in %s = %t, %v; want the catalogue", tt.store, ok, err)
			}
		})
	}
}
