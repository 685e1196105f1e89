package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// saveByRename saves data at path as editors do: into a new file, renamed
// over the old one.
func saveByRename(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// configOf renders a configuration of servers.
func configOf(t *testing.T, servers map[string]any) []byte {
	t.Helper()
	data, err := json.Marshal(map[string]any{"mcpServers": servers, "toolMode": "full"})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// reloadOutcome is the "config" member of mcpmux://status.
type reloadOutcome struct {
	Path    string
	Applied bool
	Error   string
}

func configStatus(m *muxClient) *reloadOutcome {
	m.tb.Helper()
	res := m.request(10*time.Second, "resources/read", map[string]any{"uri": "mcpmux://status"})
	var r struct{ Contents []struct{ Text string } }
	var st struct{ Config *reloadOutcome }
	if json.Unmarshal(res, &r) != nil || len(r.Contents) == 0 || json.Unmarshal([]byte(r.Contents[0].Text), &st) != nil {
		m.tb.Fatalf("reading mcpmux://status: %s", res)
	}
	return st.Config
}

// A configuration saved the way editors save it (a new file renamed over
// the old one, behind a symbolic link here) is served while the client
// stays connected; one that is not JSON is refused, the one before
// serving on, and said so in mcpmux://status.
func TestServeReloadsWhenTheFileIsSaved(t *testing.T) {
	testutil.CheckNoChildren(t)
	testutil.CheckNoGoroutineLeak(t)
	dir := t.TempDir()
	real := filepath.Join(dir, "dotfiles", "mcpmux.json")
	if err := os.Mkdir(filepath.Dir(real), 0o700); err != nil {
		t.Fatal(err)
	}
	a := testutil.TestServer(t, "-name", "a")
	if err := os.WriteFile(real, configOf(t, map[string]any{"a": a}), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.json")
	if err := os.Symlink(real, path); err != nil {
		t.Fatal(err)
	}
	m := serveInProcess(t, "--config", path, "--no-registry")
	m.waitTools("a__echo")

	saveByRename(t, real, configOf(t, map[string]any{"a": a, "b": testutil.TestServer(t, "-name", "b")}))
	m.waitTools("a__echo", "b__echo")
	m.waitNote("notifications/tools/list_changed", 30*time.Second)
	if got := m.call(10*time.Second, "b__whoami", nil); got != "b" {
		t.Errorf("b__whoami = %q after adding b, want b", got)
	}

	saveByRename(t, real, []byte(`{"mcpServers": {"a": `))
	testutil.WaitFor(t, "the broken file refused in mcpmux://status", func() bool {
		st := configStatus(m.muxClient)
		return st != nil && !st.Applied && strings.Contains(st.Error, "line 1")
	})
	if tools := m.tools(); !slices.Contains(tools, "a__echo") || !slices.Contains(tools, "b__echo") {
		t.Errorf("tools/list = %q after a broken save, want a's and b's still", tools)
	}
	if got := m.call(10*time.Second, "a__echo", map[string]any{"message": "still"}); got != "still" {
		t.Errorf("a__echo = %q after a broken save, want still", got)
	}

	saveByRename(t, real, configOf(t, map[string]any{"a": a}))
	testutil.WaitFor(t, "b gone after removing it", func() bool { return !slices.Contains(m.tools(), "b__echo") })
	if st := configStatus(m.muxClient); st == nil || !st.Applied || st.Error != "" {
		t.Errorf("mcpmux://status config after a good save = %+v, want applied", st)
	}
	m.stop()
	log := m.stderr.String()
	for _, want := range []string{"configuration refused; still serving the one before", "added=[b]", "removed=[b]"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
}

// SIGHUP, which ended mcpmux, reloads the configuration.
func TestServeReloadsOnSIGHUP(t *testing.T) {
	testutil.CheckNoChildren(t)
	path := writeConfig(t, map[string]any{"a": testutil.TestServer(t, "-name", "a")})
	p := serveProcess(t, nil, "--config", path, "--no-registry", "--log-level", "debug")
	p.waitTools("a__echo")
	for i := 1; i <= 2; i++ {
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, "a reload on SIGHUP", func() bool {
			return strings.Count(p.stderr.String(), "configuration reloaded") == i
		})
	}
	if !strings.Contains(p.stderr.String(), "why=SIGHUP") {
		t.Errorf("the log does not say the reload was for SIGHUP:\n%s", p.stderr)
	}
	if got := p.call(10*time.Second, "a__echo", map[string]any{"message": "alive"}); got != "alive" {
		t.Errorf("a__echo = %q after two SIGHUPs, want alive", got)
	}
}
