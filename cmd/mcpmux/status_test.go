package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry/store"
)

// statusOf runs `mcpmux status --json` and returns the entry of server.
func statusOf(t *testing.T, config, dataDir, server string) statusEntry {
	t.Helper()
	out := runCommand(t, "status", "--json", "--config", config, "--data-dir", dataDir)
	var status struct{ Servers []statusEntry }
	if err := json.Unmarshal([]byte(out), &status); err != nil {
		t.Fatalf("decoding status --json: %v\n%s", err, out)
	}
	for _, s := range status.Servers {
		if s.Server == server {
			return s
		}
	}
	t.Fatalf("status --json has no %q:\n%s", server, out)
	return statusEntry{}
}

// While mcpmux serves, status shows its upstreams live and history shows
// what happened to them, newest first.
func TestStatusAndHistory(t *testing.T) {
	testutil.CheckNoChildren(t)
	dataDir := t.TempDir()
	config := writeConfig(t, map[string]any{
		"a":   testutil.TestServer(t, "-name", "a"),
		"off": map[string]any{"command": "nothing", "disabled": true},
	})
	m := serveProcess(t, nil, "--config", config, "--data-dir", dataDir)
	m.waitTools("a__echo")
	for range 3 {
		m.call(10*time.Second, "a__echo", map[string]any{"message": "hi"})
	}
	if resp := m.send(10*time.Second, "tools/call", map[string]any{"name": "a__error"}); resp.Error == nil {
		t.Fatalf("a__error = %s, want an error", resp.Result)
	}

	var st statusEntry
	testutil.WaitFor(t, "a live and ready in status", func() bool {
		st = statusOf(t, config, dataDir, "a")
		return st.Live && st.State.State == store.StateReady && st.State.PID != 0
	})
	killed := st.State.PID
	if err := testutil.Kill(killed); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "a restarted, in status and in history", func() bool {
		st = statusOf(t, config, dataDir, "a")
		return st.Live && st.State.State == store.StateReady && st.State.PID != killed &&
			st.State.Restarts >= 1 && st.RestartsLastDay >= 1 && st.Calls.Calls == 4
	})
	if st.Tools == 0 || st.Calls.Errors != 1 || st.ErrorRate != 0.25 {
		t.Errorf("status of a = %+v; want its cached tools, and 1 error in 4 calls", st)
	}
	if off := statusOf(t, config, dataDir, "off"); !off.Disabled || off.State != nil {
		t.Errorf("status of off = %+v, want disabled, never run", off)
	}

	var events []store.Event
	if err := json.Unmarshal([]byte(runCommand(t, "history", "a", "--json", "--data-dir", dataDir)), &events); err != nil {
		t.Fatal(err)
	}
	var kinds []store.EventKind
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	want := []store.EventKind{store.EventRestart, store.EventConnected, store.EventDisconnected, store.EventConnected}
	if !slices.Equal(kinds, want) {
		t.Fatalf("history of a = %v, want %v (newest first)", kinds, want)
	}
	if d := events[2]; d.Reason == "" || d.Duration <= 0 {
		t.Errorf("disconnected event = %+v, want a reason and a duration", d)
	}
	if !slices.IsSortedFunc(events, func(a, b store.Event) int { return b.Time.Compare(a.Time) }) {
		t.Errorf("history is not newest first: %+v", events)
	}

	table := runCommand(t, "history", "--data-dir", dataDir, "a", "--limit", "3")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 || !strings.Contains(lines[3], "disconnected") || !strings.Contains(lines[3], events[2].Reason) {
		t.Errorf("history table =\n%s\nwant a header and 3 rows, the last the disconnect with its reason", table)
	}
	t.Logf("mcpmux status:\n%s", runCommand(t, "status", "--config", config, "--data-dir", dataDir))
	t.Logf("mcpmux history:\n%s", table)
}

func TestStatusTable(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	sums := []store.Summary{
		{
			Server: "github", Live: true, RestartsLastDay: 2, Tools: 34, Prompts: 1, Fetched: now,
			State: &store.ServerState{Server: "github", State: "ready", Since: now.Add(-3*time.Minute - 12*time.Second)},
			Calls: store.CallStats{Calls: 8, Errors: 1},
		},
		{
			Server: "slack", Tools: 2, Fetched: now, Stale: true,
			State: &store.ServerState{Server: "slack", State: "backoff", Since: now.Add(-2 * time.Hour), LastError: "exit status 1"},
		},
		{Server: "off", Disabled: true},
	}
	var out strings.Builder
	if err := printStatus(&out, sums, now); err != nil {
		t.Fatal(err)
	}
	want := `SERVER  STATE     SEEN        FOR     RESTARTS/24H  TOOLS      PROMPTS  RESOURCES  CALLS  ERRORS     P95  LAST ERROR
github  ready     live        3m12s   2             34         1        0          8      1 (12.5%)  0s
slack   backoff   last known  2h0m0s  0             2 (stale)  0        0          0      -          -    exit status 1
off     disabled  never       -       0             -          -        -          0      -          -
`
	if got := out.String(); got != want {
		t.Errorf("printStatus =\n%s\nwant\n%s", got, want)
	}
}

// After a host kills mcpmux (Gemini CLI and Codex do at the end of a
// run), status does not show the upstreams of the dead instance as
// running: its live file is removed, and the state it last recorded is
// shown as stopped, since its keeper ended the upstreams.
func TestStatusAfterMcpmuxKilled(t *testing.T) {
	testutil.CheckNoChildren(t)
	dataDir := t.TempDir()
	config := writeConfig(t, map[string]any{"a": testutil.TestServer(t, "-name", "a")})
	m := serveProcess(t, nil, "--config", config, "--data-dir", dataDir)
	m.waitTools("a__echo")
	testutil.WaitFor(t, "a ready in the store", func() bool {
		s, err := store.Open(store.Dir(dataDir), store.Options{ReadOnly: true})
		if err != nil {
			return false
		}
		defer s.Close()
		states, err := s.States()
		return err == nil && states["a"].State == store.StateReady
	})
	m.kill()

	st := statusOf(t, config, dataDir, "a")
	if st.Live || !st.Gone || st.State == nil || st.State.State != store.StateStopped || st.State.PID != 0 {
		t.Errorf("status of a after mcpmux was killed = %+v (state %+v); want stopped, not live, its mcpmux gone", st, st.State)
	}
	if insts, err := store.Instances(dataDir); err != nil || len(insts) != 0 {
		t.Errorf("live files after status = %+v, %v; want the dead instance's removed", insts, err)
	}
	table := runCommand(t, "status", "--config", config, "--data-dir", dataDir)
	if !strings.Contains(table, "stopped  mcpmux gone") {
		t.Errorf("status table =\n%s\nwant a stopped, its mcpmux gone", table)
	}
}
