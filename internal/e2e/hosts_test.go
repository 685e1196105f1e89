//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// hostTimeout bounds one run of a host, which starts every server, sends
// its model request to the fake model and gives up.
const hostTimeout = 3 * time.Minute

// everythingInstructions is a line of server-everything's instructions:
// the model has them if its request holds it.
const everythingInstructions = "Server instructions are working"

// fakeModel is a model API on 127.0.0.1 that keeps every request a host
// sends it and refuses each with 400, so that the host, which has no
// account, gives up at once: what a host sends its model is what it
// offers it, tools and instructions.
type fakeModel struct {
	srv *httptest.Server

	mu   sync.Mutex
	reqs [][]byte
}

func newFakeModel(t *testing.T) *fakeModel {
	f := &fakeModel{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		f.mu.Lock()
		f.reqs = append(f.reqs, body)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"code":400,"message":"fake model: no","status":"INVALID_ARGUMENT","type":"invalid_request_error"}}`)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// take returns the requests received since the last take.
func (f *fakeModel) take() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.reqs
	f.reqs = nil
	return out
}

// hostTestsEnv must be 1 for the host tests to run: together they take
// 5 to 10 minutes on a loaded 2-core machine (three hosts, three runs
// each, opencode fetching its provider package), more than the e2e
// package's share of go test's timeout. .ci/run runs them in a step of
// their own.
const hostTestsEnv = "MCPMUX_HOST_TESTS"

// needHostTests skips t unless hostTestsEnv is 1, saying so.
func needHostTests(t *testing.T) {
	if os.Getenv(hostTestsEnv) != "1" {
		t.Skipf("a real host's run takes minutes: run with %s=1 (as .ci/run's host step does)", hostTestsEnv)
	}
}

// hostUpstreams are the servers each host gets, directly and behind
// mcpmux: server-everything started 3 s late by a shell wrapper (so that,
// cold, its handshake comes after mcpmux's instructions wait), server-
// memory, and the test server behind a wrapper that outlives its stdin.
func hostUpstreams(t *testing.T) map[string]any {
	return map[string]any{
		"everything": wrapped(`sleep 3; exec "$0"`, everythingBin(t)),
		"memory":     memory(t),
		"stubborn":   wrapped(`"$0"; sleep 30`, testutil.TestServerPath(t)),
	}
}

// hostView is what a host offered its model in one run.
type hostView struct {
	tools        map[string]bool // server/tool, upstream names
	instructions bool            // server-everything's instructions reached the model
}

// hostRun runs a host with the servers (host-specific entries), waits
// for it, and returns the model requests it made.
type hostRun func(t *testing.T, servers map[string]any) [][]byte

// checkHost drives a host directly and through mcpmux, cold (a fresh data
// dir) and warm (the same one again): it must offer the model the same
// tools all three ways; warm, the upstream instructions must reach the
// model as they do directly (cold, server-everything's handshake comes
// after mcpmux's 3 s wait, by design); and each time the host ends it,
// mcpmux must log "mcpmux stopped" and leave no process behind.
//
// clean is what the host makes of a tool name for its model (nil: keeps
// it as it is).
func checkHost(t *testing.T, run hostRun, parse func(t *testing.T, reqs [][]byte, servers []string) hostView, clean func(string) string) {
	testutil.CheckNoChildren(t)
	upstreams := hostUpstreams(t)
	upConfig := writeConfig(t, upstreams)
	names := []string{"everything", "memory", "stubborn"}
	direct := parse(t, run(t, upstreams), names)
	if len(direct.tools) < 30 {
		t.Fatalf("directly the host offers only %d tools: %v; the servers did not all start", len(direct.tools), direct.tools)
	}
	if clean == nil {
		clean = func(s string) string { return s }
	}
	exposed := map[string]exposedEntry{} // by the host's name for it
	for name, e := range exposedNames(t, upConfig) {
		exposed[clean(name)] = e
	}
	dataDir := t.TempDir()
	for _, start := range []string{"cold", "warm"} {
		marker := markEnvironment(t)
		logFile := filepath.Join(t.TempDir(), "mcpmux.log")
		entry := map[string]any{
			"command": mcpmuxBin(t),
			"args":    []string{"serve", "--config", upConfig, "--data-dir", dataDir, "--log-file", logFile, "--log-level", "debug"},
			// Hosts may pass their servers a trimmed environment.
			"env": map[string]string{"MCPMUX_TEST_MARKER": strings.TrimPrefix(marker, "MCPMUX_TEST_MARKER="), "GORACE": "atexit_sleep_ms=0"},
		}
		through := parse(t, run(t, map[string]any{"mcpmux": entry}), []string{"mcpmux"})
		got := map[string]bool{}
		for name := range through.tools {
			e, ok := exposed[strings.TrimPrefix(name, "mcpmux/")]
			if !ok {
				t.Errorf("%s: tool %q through mcpmux is not in mcpmux's catalogue", start, name)
				continue
			}
			got[e.Server+"/"+clean(e.Original)] = true
		}
		if missing, extra := diff(direct.tools, got); len(missing)+len(extra) > 0 {
			t.Errorf("%s: through mcpmux the host offers %d tools, directly %d;\nmissing through mcpmux: %q\nonly through mcpmux: %q",
				start, len(got), len(direct.tools), missing, extra)
		}
		switch {
		case !direct.instructions:
			t.Errorf("directly, server-everything's instructions did not reach the model: the check is blind")
		case start == "warm" && !through.instructions:
			t.Errorf("warm: server-everything's instructions did not reach the model through mcpmux")
		case start == "cold":
			t.Logf("cold: instructions through mcpmux: %v (server-everything starts after the 3 s wait)", through.instructions)
		}
		gone := time.Now()
		if left := waitMarked(t, marker, func(ps []testutil.Process) bool { return len(ps) == 0 }); len(left) > 0 {
			t.Errorf("%s: processes outlived mcpmux:\n%s", start, describe(left))
		}
		t.Logf("%s: everything mcpmux ran gone %s after the host exited", start, time.Since(gone).Round(10*time.Millisecond))
		log, err := os.ReadFile(logFile)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(log, []byte("mcpmux stopped")) {
			t.Errorf("%s: mcpmux did not log \"mcpmux stopped\":\n%s", start, log)
		}
	}
}

// hostEnv is this environment without the variables of names starting
// with any of drop, in a fresh home, with set over it.
func hostEnv(home string, drop []string, set ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "HOME" || slicesHasPrefix(name, drop) {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "HOME="+home), set...)
}

func slicesHasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// runHost runs cmd, in a fresh home, to its end within hostTimeout, and
// returns what it printed.
func runHost(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Logf("%s: %v", filepath.Base(cmd.Path), err) // it gives up: the model refuses
	}
	if t.Failed() {
		t.Logf("%s output:\n%s", filepath.Base(cmd.Path), out.String())
	}
	return out.String()
}

// TestGeminiCLIOffersWhatItOffersDirect drives Gemini CLI (pinned, from
// npm) against a fake model API on 127.0.0.1 with an API key that means
// nothing: its request to the model holds the tools it offers
// (functionDeclarations, named mcp_<server>_<tool>) and its system
// context holds the servers' instructions. See checkHost.
func TestGeminiCLIOffersWhatItOffersDirect(t *testing.T) {
	needHostTests(t)
	gemini := testutil.HostBin(t, "gemini", testutil.GeminiCLIPkg, testutil.GeminiCLIVersion, testutil.GeminiCLIBin)
	model := newFakeModel(t)
	run := func(t *testing.T, servers map[string]any) [][]byte {
		home := t.TempDir()
		settings, err := json.Marshal(map[string]any{
			"mcpServers": servers,
			"security":   map[string]any{"auth": map[string]any{"selectedType": "gemini-api-key"}},
			"privacy":    map[string]any{"usageStatisticsEnabled": false},
			"telemetry":  map[string]any{"enabled": false},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(home, ".gemini"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, ".gemini", "settings.json"), settings, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), hostTimeout)
		defer cancel()
		// yolo: headless, Gemini CLI offers the model no tool that would
		// need a confirmation.
		cmd := exec.CommandContext(ctx, gemini, "--approval-mode", "yolo", "-p", "hi")
		cmd.Dir = home
		cmd.Env = hostEnv(home, []string{"GEMINI_", "GOOGLE_"}, "GEMINI_API_KEY=not-a-key",
			"GOOGLE_GEMINI_BASE_URL="+model.srv.URL, "GEMINI_CLI_TRUST_WORKSPACE=true")
		model.take()
		runHost(t, cmd)
		if ctx.Err() != nil {
			t.Fatalf("gemini did not finish within %s", hostTimeout)
		}
		return model.take()
	}
	checkHost(t, run, parseGemini, nil)
}

// parseGemini reads the tools Gemini CLI offered its model: the request
// with the most function declarations.
func parseGemini(t *testing.T, reqs [][]byte, servers []string) hostView {
	t.Helper()
	var v hostView
	best := -1
	for _, raw := range reqs {
		var req struct {
			Tools []struct {
				FunctionDeclarations []struct{ Name string } `json:"functionDeclarations"`
			} `json:"tools"`
		}
		if json.Unmarshal(raw, &req) != nil {
			continue
		}
		tools := map[string]bool{}
		for _, tl := range req.Tools {
			for _, fd := range tl.FunctionDeclarations {
				for _, s := range servers {
					if rest, ok := strings.CutPrefix(fd.Name, "mcp_"+s+"_"); ok {
						tools[s+"/"+rest] = true
					}
				}
			}
		}
		if len(tools) > best {
			best, v.tools = len(tools), tools
			v.instructions = bytes.Contains(raw, []byte(everythingInstructions))
		}
	}
	if best < 0 {
		t.Fatalf("Gemini CLI sent the model no request (%d requests)", len(reqs))
	}
	return v
}

// TestCodexOffersWhatItOffersDirect drives Codex (pinned, from npm) with
// a model provider of its configuration pointing at a fake model API on
// 127.0.0.1 (the Responses API): its request holds the tools it offers,
// one namespace per MCP server (mcp__<server>), whose description is the
// server's instructions. Each server is "required", so that Codex waits
// for it before its request, as a user who wants its tools would set it.
// See checkHost.
func TestCodexOffersWhatItOffersDirect(t *testing.T) {
	needHostTests(t)
	codex := testutil.HostBin(t, "codex", testutil.CodexPkg, testutil.CodexVersion, testutil.CodexBin)
	model := newFakeModel(t)
	run := func(t *testing.T, servers map[string]any) [][]byte {
		home := t.TempDir()
		codexHome := filepath.Join(home, ".codex")
		if err := os.MkdirAll(codexHome, 0o700); err != nil {
			t.Fatal(err)
		}
		var cfg strings.Builder
		cfg.WriteString("model = \"gpt-5\"\nmodel_provider = \"fake\"\n\n[model_providers.fake]\nname = \"fake\"\n")
		cfg.WriteString("base_url = " + tomlString(model.srv.URL+"/v1") + "\n")
		cfg.WriteString("wire_api = \"responses\"\nenv_key = \"FAKE_MODEL_KEY\"\nrequest_max_retries = 0\nstream_max_retries = 0\n")
		for name, e := range servers {
			entry := e.(map[string]any)
			cfg.WriteString("\n[mcp_servers." + name + "]\nrequired = true\nstartup_timeout_sec = 120\n")
			cfg.WriteString("command = " + tomlString(entry["command"].(string)) + "\n")
			if args, ok := entry["args"].([]string); ok {
				quoted := make([]string, len(args))
				for i, a := range args {
					quoted[i] = tomlString(a)
				}
				cfg.WriteString("args = [" + strings.Join(quoted, ", ") + "]\n")
			}
			if env, ok := entry["env"].(map[string]string); ok {
				cfg.WriteString("[mcp_servers." + name + ".env]\n")
				for k, v := range env {
					cfg.WriteString(k + " = " + tomlString(v) + "\n")
				}
			}
		}
		if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(cfg.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), hostTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, codex, "exec", "--skip-git-repo-check", "hi")
		cmd.Dir = home
		cmd.Env = hostEnv(home, []string{"CODEX_", "OPENAI_"}, "CODEX_HOME="+codexHome, "FAKE_MODEL_KEY=not-a-key")
		model.take()
		runHost(t, cmd)
		if ctx.Err() != nil {
			t.Fatalf("codex did not finish within %s", hostTimeout)
		}
		return model.take()
	}
	checkHost(t, run, parseCodex, codexClean)
}

// codexClean is what Codex makes of a tool name: each character outside
// [A-Za-z0-9_] becomes "_".
func codexClean(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	b, _ := json.Marshal(s) // JSON's escapes are TOML's
	return string(b)
}

// parseCodex reads the tools Codex offered its model: the namespaces
// mcp__<server> of the request with the most tools.
func parseCodex(t *testing.T, reqs [][]byte, servers []string) hostView {
	t.Helper()
	var v hostView
	best := -1
	for _, raw := range reqs {
		var req struct {
			Tools []struct {
				Type, Name string
				Tools      []struct{ Name string }
			}
		}
		if json.Unmarshal(raw, &req) != nil {
			continue
		}
		tools := map[string]bool{}
		for _, ns := range req.Tools {
			for _, s := range servers {
				if ns.Type == "namespace" && ns.Name == "mcp__"+s {
					for _, tl := range ns.Tools {
						tools[s+"/"+tl.Name] = true
					}
				}
			}
		}
		if len(tools) > best {
			best, v.tools = len(tools), tools
			v.instructions = bytes.Contains(raw, []byte(everythingInstructions))
		}
	}
	if best < 0 {
		t.Fatalf("Codex sent the model no request (%d requests)", len(reqs))
	}
	return v
}

// TestOpencodeOffersWhatItOffersDirect drives opencode (pinned, from npm)
// with a provider of its configuration (@ai-sdk/openai-compatible, which
// opencode fetches into its cache) pointing at a fake model API on
// 127.0.0.1 (chat completions): its request holds the tools it offers,
// named <server>_<tool>, and the servers' instructions. See checkHost.
func TestOpencodeOffersWhatItOffersDirect(t *testing.T) {
	needHostTests(t)
	opencode := testutil.HostBin(t, "opencode", testutil.OpencodePkg, testutil.OpencodeVersion, testutil.OpencodeBin)
	model := newFakeModel(t)
	cache := t.TempDir() // the provider package, fetched once for the test's runs
	run := func(t *testing.T, servers map[string]any) [][]byte {
		home := t.TempDir()
		mcp := map[string]any{}
		for name, e := range servers {
			entry := e.(map[string]any)
			command := []string{entry["command"].(string)}
			if args, ok := entry["args"].([]string); ok {
				command = append(command, args...)
			}
			local := map[string]any{"type": "local", "command": command, "timeout": 120000}
			if env, ok := entry["env"].(map[string]string); ok {
				local["environment"] = env
			}
			mcp[name] = local
		}
		cfg, err := json.Marshal(map[string]any{
			"mcp": mcp,
			"provider": map[string]any{"fake": map[string]any{
				"npm": "@ai-sdk/openai-compatible", "name": "fake",
				"options": map[string]any{"baseURL": model.srv.URL + "/v1", "apiKey": "not-a-key"},
				"models":  map[string]any{"m": map[string]any{"name": "m"}},
			}},
			"model": "fake/m", "autoupdate": false, "share": "disabled",
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, "opencode.json"), cfg, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), hostTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, opencode, "run", "hi")
		cmd.Dir = home
		cmd.Env = hostEnv(home, []string{"OPENCODE", "XDG_", "OPENAI_", "ANTHROPIC_"},
			"XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_DATA_HOME="+filepath.Join(home, ".data"),
			"XDG_STATE_HOME="+filepath.Join(home, ".state"), "XDG_CACHE_HOME="+cache, "OPENCODE_DISABLE_AUTOUPDATE=1",
			"OPENCODE_CONFIG="+filepath.Join(home, "opencode.json"))
		model.take()
		out := runHost(t, cmd)
		if ctx.Err() != nil {
			t.Fatalf("opencode did not finish within %s", hostTimeout)
		}
		reqs := model.take()
		if len(reqs) == 0 {
			t.Logf("opencode output:\n%s", out)
		}
		return reqs
	}
	checkHost(t, run, parseOpencode, opencodeClean)
}

// opencodeClean is what opencode makes of a tool name: each character
// outside [A-Za-z0-9_-] becomes "_".
func opencodeClean(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// parseOpencode reads the tools opencode offered its model: those named
// <server>_<tool> in the request with the most of them.
func parseOpencode(t *testing.T, reqs [][]byte, servers []string) hostView {
	t.Helper()
	var v hostView
	best := -1
	for _, raw := range reqs {
		var req struct {
			Tools []struct {
				Function struct{ Name string }
			}
		}
		if json.Unmarshal(raw, &req) != nil {
			continue
		}
		tools := map[string]bool{}
		for _, tl := range req.Tools {
			for _, s := range servers {
				if rest, ok := strings.CutPrefix(tl.Function.Name, s+"_"); ok {
					tools[s+"/"+rest] = true
				}
			}
		}
		if len(tools) > best {
			best, v.tools = len(tools), tools
			v.instructions = bytes.Contains(raw, []byte(everythingInstructions))
		}
	}
	if best < 0 {
		t.Fatalf("opencode sent the model no request (%d requests)", len(reqs))
	}
	return v
}
