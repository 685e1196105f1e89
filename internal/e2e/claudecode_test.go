package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// claudeTimeout bounds one run of Claude Code, which starts every server,
// lists their tools, prints them and stops for want of a login.
const claudeTimeout = 2 * time.Minute

// anthropicNameLimit is the longest tool name the Anthropic API accepts;
// one longer breaks the whole session.
const anthropicNameLimit = 64

// TestClaudeCodeOffersWhatItOffersDirect drives a real host, Claude Code,
// from a fresh machine state, as a new user's first session: with the
// servers configured directly, and with the same servers behind mcpmux
// (fresh data dir, so nothing is cached). It must offer the model the same
// tools both ways (by their upstream names), every name through mcpmux
// must fit the API's 64 characters with Claude Code's mcp__mcpmux__
// prefix, and Claude Code must find nothing to fill in in mcpmux's
// answers. Claude Code runs without credentials and with non-essential
// traffic off: it talks to nothing but the MCP servers, and prints the
// tools it would offer (its init event) before it finds it has no login.
func TestClaudeCodeOffersWhatItOffersDirect(t *testing.T) {
	claude := testutil.NPMBin(t, testutil.ClaudeCodePkg, testutil.ClaudeCodeVersion, testutil.ClaudeCodeBin)
	testutil.CheckNoChildren(t)
	upstreams := map[string]any{
		"everything": everything(t),
		"memory":     memory(t),
		// Slow to start, with names a host must not see as they are.
		"go-everything": map[string]any{"command": testutil.TestServerPath(t), "args": []string{"-name", "go-everything", "-odd-names", "-start-delay", "2s"}},
		"broken":        map[string]any{"command": filepath.Join(t.TempDir(), "no-such-server")},
	}
	upConfig := writeConfig(t, upstreams)
	muxConfig := writeConfig(t, map[string]any{"mcpmux": map[string]any{
		"command": mcpmuxBin(t),
		"args":    []string{"serve", "--config", upConfig, "--data-dir", t.TempDir()},
	}})

	direct := runClaude(t, claude, upConfig)
	through := runClaude(t, claude, muxConfig)

	if got := through.servers["mcpmux"]; got != "connected" {
		t.Fatalf("Claude Code's view of mcpmux: %q, want connected (servers: %v)", got, through.servers)
	}
	exposed := exposedNames(t, upConfig)
	want := map[string]bool{} // server/tool, as Claude Code names them directly
	for _, name := range direct.tools {
		server, tool, ok := splitClaudeName(name, slices.Collect(maps.Keys(upstreams)))
		if !ok {
			t.Fatalf("direct tool %q has no known server's prefix", name)
		}
		want[server+"/"+tool] = true
	}
	got := map[string]bool{}
	for _, name := range through.tools {
		if len(name) > anthropicNameLimit {
			t.Errorf("tool %q through mcpmux is %d characters, over the API's %d", name, len(name), anthropicNameLimit)
		}
		e, ok := exposed[strings.TrimPrefix(name, "mcp__mcpmux__")]
		if !ok {
			t.Errorf("tool %q through mcpmux is not in mcpmux's catalogue", name)
			continue
		}
		got[e.Server+"/"+claudeClean(e.Original)] = true
	}
	if missing, extra := diff(want, got); len(missing)+len(extra) > 0 {
		t.Errorf("through mcpmux Claude Code offers %d tools, directly %d;\nmissing through mcpmux: %q\nonly through mcpmux: %q",
			len(got), len(want), missing, extra)
	}
	if len(want) < 40 {
		t.Errorf("directly Claude Code offers only %d tools: %q; the servers did not all start", len(want), direct.tools)
	}
	for _, line := range through.complaints {
		t.Errorf("Claude Code's debug log about mcpmux: %s", line)
	}
}

// claudeRun is what one run of Claude Code printed.
type claudeRun struct {
	tools      []string          // the MCP tools it would offer the model
	servers    map[string]string // MCP server name → status
	complaints []string          // debug log lines about results it had to mend
}

// runClaude runs Claude Code with the MCP configuration at config in a
// fresh home directory and returns its init event and its complaints.
func runClaude(t *testing.T, claude, config string) claudeRun {
	t.Helper()
	home := t.TempDir()
	debug := filepath.Join(home, "debug.log")
	ctx, cancel := context.WithTimeout(context.Background(), claudeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, claude, "-p", "hi", "--mcp-config", config, "--strict-mcp-config",
		"--output-format", "stream-json", "--verbose", "--debug-file", debug)
	cmd.Dir = home
	cmd.Env = claudeEnv(home)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		t.Fatalf("claude with %s did not finish within %s: %v\n%s", config, claudeTimeout, err, stderr.String())
	}
	run := claudeRun{servers: map[string]string{}}
	found := false
	for line := range bytes.Lines(out) {
		var ev struct {
			Type, Subtype string
			Tools         []string
			MCPServers    []struct{ Name, Status string } `json:"mcp_servers"`
		}
		if json.Unmarshal(line, &ev) != nil || ev.Type != "system" || ev.Subtype != "init" {
			continue
		}
		found = true
		for _, name := range ev.Tools {
			if strings.HasPrefix(name, "mcp__") {
				run.tools = append(run.tools, name)
			}
		}
		for _, s := range ev.MCPServers {
			run.servers[s.Name] = s.Status
		}
		break
	}
	if !found {
		t.Fatalf("claude with %s printed no init event (%v):\n%s\nstderr:\n%s", config, err, out, stderr.String())
	}
	run.complaints = complaints(t, debug)
	return run
}

// claudeEnv is the environment Claude Code runs in: this one without any
// credential or setting of Claude's, in a fresh home, with non-essential
// traffic off.
func claudeEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "ANTHROPIC_") || strings.HasPrefix(name, "CLAUDE") || strings.HasPrefix(name, "XDG_") || name == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1")
}

// complaints returns the lines of Claude Code's debug log that say it had
// to mend an MCP result (required fields it filled in, and the like).
func complaints(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading Claude Code's debug log: %v", err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "filled in") || strings.Contains(line, "omits required") || strings.Contains(line, "instead of rejecting") {
			out = append(out, line)
		}
	}
	return out
}

// exposedEntry is one line of `mcpmux tools --json`.
type exposedEntry struct{ Name, Server, Original string }

// exposedNames runs `mcpmux tools --json` on config and returns its
// catalogue by exposed name. It exits 1 for the broken upstream, after
// printing the others' tools.
func exposedNames(t *testing.T, config string) map[string]exposedEntry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), claudeTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, mcpmuxBin(t), "tools", "--json", "--config", config).Output()
	var entries []exposedEntry
	if jerr := json.Unmarshal(out, &entries); jerr != nil {
		t.Fatalf("mcpmux tools --json: %v, %v:\n%s", err, jerr, out)
	}
	byName := map[string]exposedEntry{}
	for _, e := range entries {
		byName[e.Name] = e
	}
	return byName
}

// splitClaudeName splits Claude Code's mcp__<server>__<tool> by the server
// names it can hold (a server name may contain "__" itself).
func splitClaudeName(name string, servers []string) (server, tool string, ok bool) {
	for _, s := range servers {
		if rest, found := strings.CutPrefix(name, "mcp__"+s+"__"); found {
			return s, rest, true
		}
	}
	return "", "", false
}

// claudeClean is what Claude Code makes of a tool name for its own: each
// UTF-16 code unit outside [A-Za-z0-9_-] becomes "_".
func claudeClean(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		case r > 0xFFFF:
			b.WriteString("__")
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// diff returns the keys of want missing from got, and those of got not in
// want, sorted.
func diff(want, got map[string]bool) (missing, extra []string) {
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return missing, extra
}
