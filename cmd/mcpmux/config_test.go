package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry/store"
)

// One entry that cannot be used (here a variable the host did not pass,
// as GUI hosts start mcpmux with a minimal environment) disables that
// server only: it is logged once, shown with its exact error in
// mcpmux://status and `mcpmux status`, and the three others serve.
func TestServeOneBrokenEntryAmongThree(t *testing.T) {
	testutil.CheckNoChildren(t)
	testutil.CheckNoGoroutineLeak(t)
	broken := testutil.TestServer(t, "-name", "broken")
	broken["env"] = map[string]string{"GITHUB_TOKEN": "${MCPMUX_TEST_UNSET_TOKEN}"}
	config := writeConfig(t, map[string]any{
		"a": testutil.TestServer(t, "-name", "a"), "b": testutil.TestServer(t, "-name", "b"), "c": testutil.TestServer(t, "-name", "c"),
		"broken": broken,
	})
	const problem = `server "broken": field "env.GITHUB_TOKEN": variable ${MCPMUX_TEST_UNSET_TOKEN} is not set`
	dataDir := t.TempDir()
	m := serveInProcess(t, "--config", config, "--data-dir", dataDir)
	m.waitTools("a__echo", "b__echo", "c__echo")
	if got := m.call(10*time.Second, "c__echo", map[string]any{"message": "hi"}); got != "hi" {
		t.Errorf("c__echo = %q, want hi", got)
	}
	if tools := m.tools(); slices.ContainsFunc(tools, func(n string) bool { return strings.HasPrefix(n, "broken__") }) {
		t.Errorf("tools/list = %q, want nothing of broken", tools)
	}
	st := upstreamStatus(m.muxClient, "broken")
	if st.State != store.StateInvalid || st.LastError != problem {
		t.Errorf("mcpmux://status of broken = %+v, want invalid with %q", st, problem)
	}
	var sawStatus statusEntry
	testutil.WaitFor(t, "broken in status, from the running serve", func() bool {
		sawStatus = statusOf(t, config, dataDir, "broken")
		return sawStatus.Live
	})
	if sawStatus.State == nil || sawStatus.State.State != store.StateInvalid || sawStatus.State.LastError != problem {
		t.Errorf("status of broken = %+v, want live, invalid, with the error", sawStatus.State)
	}
	m.stop()
	if w := warnings(m.stderr); len(w) != 1 || !strings.Contains(w[0], "upstream=broken") || !strings.Contains(w[0], "MCPMUX_TEST_UNSET_TOKEN") {
		t.Errorf("serve warned %q, want once, about broken", w)
	}

	// Without a serve running, status shows the entry as it reads the file.
	out := runCommand(t, "status", "--config", config, "--data-dir", dataDir)
	if !strings.Contains(out, `broken  invalid  config`) || !strings.Contains(out, `field "env.GITHUB_TOKEN": variable ${MCPMUX_TEST_UNSET_TOKEN} is not set`) {
		t.Errorf("status =\n%s\nwant broken invalid, with the error", out)
	}
	// tools names it among the unavailable.
	var stdout, stderr testutil.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := run(ctx, []string{"tools", "--config", config}, strings.NewReader(""), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), `1 of 4 upstreams unavailable: "broken"`) || !strings.Contains(stderr.String(), "MCPMUX_TEST_UNSET_TOKEN") {
		t.Errorf("tools = %v\n%s; want broken named as unavailable, with its error", err, stderr.String())
	}
}

// Only a file that mcpmux cannot read at all stops serve: one that is not
// JSON (with the line and column), or has no "mcpServers".
func TestServeUnreadableConfig(t *testing.T) {
	for _, tt := range []struct{ data, want string }{
		{"{\n  \"mcpServers\": {,}\n}", "line 2, column 18"},
		{`{"other": {}}`, `no "mcpServers" object`},
	} {
		path := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
			t.Fatal(err)
		}
		var stderr testutil.SyncBuffer
		err := run(context.Background(), []string{"serve", "--config", path, "--no-registry"}, strings.NewReader(""), &testutil.SyncBuffer{}, &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("serve with %q = %v, want an error with %q", tt.data, err, tt.want)
		}
	}
}

// muxEntry returns a config entry that runs the mcpmux binary on config.
func muxEntry(tb testing.TB, config string) map[string]any {
	return map[string]any{"command": testutil.BuildMcpmuxNoRace(tb), "args": []string{"serve", "--config", config, "--no-registry"}}
}

// An entry that starts mcpmux on the file it is in (the natural result of
// replacing a host's entries with mcpmux's) is refused at once, with one
// error naming it, and not retried; the others serve.
func TestServeRefusesItself(t *testing.T) {
	testutil.CheckNoChildren(t)
	config := filepath.Join(t.TempDir(), "claude_desktop_config.json")
	// Named another way than the entry names it: still the same file.
	link := filepath.Join(t.TempDir(), "link.json")
	if err := os.Symlink(config, link); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(map[string]any{"mcpServers": map[string]any{"a": testutil.TestServer(t, "-name", "a"), "mcpmux": muxEntry(t, config)}})
	if err := os.WriteFile(config, data, 0o600); err != nil {
		t.Fatal(err)
	}
	m := serveInProcess(t, "--config", link, "--no-registry")
	m.waitTools("a__echo")
	var st muxStatus
	testutil.WaitFor(t, "the mcpmux entry refused", func() bool {
		st = upstreamStatus(m.muxClient, "mcpmux")
		return st.State == "stopped"
	})
	if st.LastError != errSelf {
		t.Errorf("mcpmux://status of the mcpmux entry = %+v, want stopped with %q", st, errSelf)
	}
	m.stop()
	var refusals []string
	for _, w := range warnings(m.stderr) {
		if strings.Contains(w, "upstream=mcpmux") {
			refusals = append(refusals, w)
		}
	}
	if len(refusals) != 1 || !strings.Contains(refusals[0], errSelf) {
		t.Errorf("logged %q about the mcpmux entry, want one error saying %q", refusals, errSelf)
	}
	if n := strings.Count(m.stderr.String(), "upstream ready upstream=mcpmux"); n != 0 {
		t.Errorf("the refused entry became ready %d times", n)
	}
}

// mcpmux serving another file is allowed, three mcpmux deep at most.
func TestServeNestedMcpmux(t *testing.T) {
	testutil.CheckNoChildren(t)
	dir := t.TempDir()
	level := func(n int) string { return filepath.Join(dir, fmt.Sprintf("level%d.json", n)) }
	write := func(n int, servers map[string]any) {
		data, _ := json.Marshal(map[string]any{"mcpServers": servers})
		if err := os.WriteFile(level(n), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Their logs come up as their stderr, which is at debug unless raised.
	loud := func(e map[string]any) map[string]any { e["logStderr"] = "info"; return e }
	write(1, map[string]any{"m2": loud(muxEntry(t, level(2)))})
	write(2, map[string]any{"m3": loud(muxEntry(t, level(3)))})
	write(3, map[string]any{"b": testutil.TestServer(t, "-name", "b"), "m4": muxEntry(t, level(4))})
	write(4, map[string]any{"c": testutil.TestServer(t, "-name", "c")})
	m := serveInProcess(t, "--config", level(1), "--no-registry")
	if got := m.call(20*time.Second, "m2__m3__b__echo", map[string]any{"message": "deep"}); got != "deep" {
		t.Errorf("m2__m3__b__echo = %q, want deep", got)
	}
	// The third mcpmux's log reaches this one's through the second's.
	testutil.WaitFor(t, "the fourth mcpmux refused", func() bool {
		return strings.Contains(m.stderr.String(), "upstream refused to serve; not retrying") &&
			strings.Contains(m.stderr.String(), "inside 3 others")
	})
	if tools := m.tools(); slices.ContainsFunc(tools, func(n string) bool { return strings.Contains(n, "m4__") }) {
		t.Errorf("tools/list = %q, want nothing from the fourth mcpmux", tools)
	}
}
