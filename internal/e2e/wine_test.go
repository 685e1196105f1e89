//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// wineBox is mcpmux.exe and a Windows build of internal/testserver, in a
// directory whose path has a space and a non-ASCII letter, run by Wine
// from this (Linux) test: Go test binaries cannot run under Wine 8 (see
// .ci/wine/setup.sh), so the Windows side is the real binaries.
type wineBox struct {
	dir    string   // holds mcpmux.exe, testserver.exe, bin\ts.cmd, config.json
	env    []string // the environment of every wine command
	config string   // config.json, as Windows names it
	state  string   // the data directory, as Windows names it
}

// winPath is the Windows name of the Linux path p: Wine's Z: drive.
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

// newWineBox builds the binaries and the Wine prefix (.ci/wine/setup.sh),
// or skips the test, saying why, when Wine or mingw is missing. It keeps
// one wineserver running for the test (Wine's start-up is seconds without
// it), and ends it, and whatever still runs in the prefix, at cleanup.
func newWineBox(t *testing.T) *wineBox {
	t.Helper()
	for _, tool := range []string{"wine", "wineserver", "x86_64-w64-mingw32-gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("MCPMUX_WINE_REQUIRED") != "" {
				t.Fatalf("%s is not installed, and MCPMUX_WINE_REQUIRED is set (.ci/run installs it)", tool)
			}
			t.Skipf("%s is not installed (apt-get install wine64 gcc-mingw-w64-x86-64; .ci/run does): the Windows build is not tested", tool)
		}
	}
	setup, err := filepath.Abs("../../.ci/wine/setup.sh")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(setup).Output()
	if err != nil {
		t.Fatalf("%s: %v", setup, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	prefix := lines[len(lines)-1]

	w := &wineBox{dir: filepath.Join(t.TempDir(), "dir with space ü")}
	// The state lives apart from the configuration, as on Windows
	// (%LOCALAPPDATA% and %APPDATA%).
	state := filepath.Join(filepath.Dir(w.dir), "state ü")
	for _, d := range []string{filepath.Join(w.dir, "bin"), state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	buildWindows(t, "./cmd/mcpmux", filepath.Join(w.dir, "mcpmux.exe"))
	buildWindows(t, "./internal/testserver", filepath.Join(w.dir, "testserver.exe"))
	// A bare name that Windows finds through PATH and PATHEXT: a .cmd, as
	// npx is npx.cmd.
	// It names the server by its own directory (%~dp0): cmd.exe reads a
	// batch file in the OEM code page, so a path written in it would lose
	// its ü.
	shim := "@echo off\r\n\"%~dp0..\\testserver.exe\" %*\r\n"
	if err := os.WriteFile(filepath.Join(w.dir, "bin", "ts.cmd"), []byte(shim), 0o644); err != nil {
		t.Fatal(err)
	}
	w.config, w.state = winPath(filepath.Join(w.dir, "config.json")), winPath(state)
	w.env = append(os.Environ(), "WINEPREFIX="+prefix, "WINEDEBUG=-all",
		"WINEPATH="+winPath(filepath.Join(w.dir, "bin")), "MCPMUX_LOG_LEVEL=debug")
	// A wineserver left by an earlier run that was killed before its
	// cleanup would make -p fail: end it first.
	_ = w.command("wineserver", "-k").Run()
	// No pipes: the server it leaves running would hold them open.
	if err := w.command("wineserver", "-p").Run(); err != nil {
		t.Fatalf("wineserver -p: %v", err)
	}
	t.Cleanup(func() { _ = w.command("wineserver", "-k").Run() })
	// The prefix's services (services.exe, explorer.exe, ...) start with
	// the first program and live on, holding whatever stdout and stderr it
	// had: let them have none.
	if err := w.command("wine", "cmd.exe", "/c", "exit").Run(); err != nil {
		t.Fatalf("wine cmd.exe /c exit: %v", err)
	}
	return w
}

// wineOutput returns a file for a command's stdout or stderr, and how to read
// it: a file, not a pipe, so that no process of Wine's that inherits it
// can keep the command's Wait waiting.
func wineOutput(t *testing.T, name string) (*os.File, func() string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, func() string {
		b, _ := os.ReadFile(f.Name())
		return string(b)
	}
}

// buildWindows builds pkg for windows/amd64 into out.
func buildWindows(t *testing.T, pkg, out string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go build %s: %v\n%s", pkg, err, b)
	}
}

func (w *wineBox) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = w.env
	return cmd
}

// mcpmux runs mcpmux.exe with args under Wine and returns its stdout; it
// fails t with its stderr if it fails.
func (w *wineBox) mcpmux(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wine", append([]string{w.exe()}, args...)...)
	cmd.Env = w.env
	stdout, readStdout := wineOutput(t, "stdout")
	stderr, readStderr := wineOutput(t, "stderr")
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("wine mcpmux.exe %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, readStdout(), readStderr())
	}
	return readStdout()
}

// marker is the part of the box's path that no other test's has: its
// temporary directory's name (/tmp/TestWine123/001/dir with space ü).
func (w *wineBox) marker() string { return filepath.Base(filepath.Dir(filepath.Dir(w.dir))) }

func (w *wineBox) exe() string { return filepath.Join(w.dir, "mcpmux.exe") }

// writeConfig writes config.json with servers; "testserver.exe" as a
// command is the absolute Windows path of the test server.
func (w *wineBox) writeConfig(t *testing.T, servers map[string]any) {
	t.Helper()
	for _, s := range servers {
		if e := s.(map[string]any); e["command"] == "testserver.exe" {
			e["command"] = winPath(filepath.Join(w.dir, "testserver.exe"))
		}
	}
	data, err := json.MarshalIndent(map[string]any{"mcpServers": servers}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// upstreams returns the live processes of the box's test server: Wine
// shows a Windows process's command line in /proc.
func (w *wineBox) upstreams() []testutil.Process {
	var out []testutil.Process
	for _, p := range testutil.Processes() {
		if strings.Contains(p.Cmdline, "testserver.exe") && strings.Contains(p.Cmdline, w.marker()) &&
			!strings.Contains(p.Cmdline, "ts.cmd") && p.State != 'Z' {
			out = append(out, p)
		}
	}
	return out
}

// TestWine runs the Windows build under Wine, one box for every case
// (Wine's start-up is slow): a bare name that is a .cmd on PATH, a path
// with a space and a non-ASCII letter, CRLF from an upstream, a session
// of the official TypeScript client, status and history after it, a
// history and status beside a serve, a reload by editing the file, and kill -9 of mcpmux.exe leaving no
// upstream behind (Job Objects).
func TestWine(t *testing.T) {
	w := newWineBox(t)
	w.writeConfig(t, map[string]any{
		"abs":  map[string]any{"command": "testserver.exe", "args": []string{"-name", "abs"}},
		"bare": map[string]any{"command": "ts", "args": []string{"-name", "bare one", "-crlf"}},
	})

	t.Run("tools", func(t *testing.T) {
		out := w.mcpmux(t, "tools", "--config", w.config)
		for _, want := range []string{"abs__echo", "bare__echo"} {
			if !strings.Contains(out, want) {
				t.Errorf("mcpmux.exe tools lists no %s:\n%s", want, out)
			}
		}
	})

	t.Run("ts-client", func(t *testing.T) { wineTSClient(t, w) })

	t.Run("status", func(t *testing.T) {
		status := w.mcpmux(t, "status", "--config", w.config, "--data-dir", w.state)
		for _, name := range []string{"abs", "bare"} {
			if !strings.Contains(status, name) {
				t.Errorf("mcpmux.exe status after a serve says nothing of %s:\n%s", name, status)
			}
		}
	})

	t.Run("reload-then-kill", func(t *testing.T) { wineReloadThenKill(t, w) })
	t.Run("cmd-non-ascii-args", func(t *testing.T) { wineCmdArgs(t, w) })
}

// wineCmdArgs: arguments with letters outside the OEM code page (and
// outside Latin-1) reach a server started through a .cmd intact, as
// npx.cmd's would: cmd.exe reads the batch file's text in the OEM code
// page, but %* expands the command line, which stays Unicode.
func wineCmdArgs(t *testing.T, w *wineBox) {
	const name = "grüße ü€ 日本 ‘q’"
	w.writeConfig(t, map[string]any{"uml": map[string]any{"command": "ts", "args": []string{"-name", name}}})
	if got := strings.TrimSpace(w.mcpmux(t, "call", "--config", w.config, "--data-dir", w.state, "uml__whoami")); got != name {
		t.Errorf("whoami of a .cmd upstream given -name %q answers %q", name, got)
	}
}

// wineTSClient: the official TypeScript SDK client gets the whole first
// list through `wine mcpmux.exe serve` and answers to its calls, one of
// them through the .cmd upstream that writes CRLF.
func wineTSClient(t *testing.T, w *wineBox) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH")
	}
	modules := testutil.NPMModules(t, testutil.SDKPkg, testutil.SDKVersion)
	script, err := filepath.Abs("testdata/wineclient.cjs")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(map[string]any{
		"command": "wine",
		"args":    []string{w.exe(), "serve", "--config", w.config, "--data-dir", w.state},
		"call":    []string{"abs__echo", "bare__echo"},
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, string(spec))
	cmd.Env = append(w.env, "NODE_PATH="+modules)
	stdout, readStdout := wineOutput(t, "stdout")
	stderr, readStderr := wineOutput(t, "stderr")
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("wineclient.cjs: %v\nstderr:\n%s", err, readStderr())
	}
	var got struct {
		Tools []string          `json:"tools"`
		Calls map[string]string `json:"calls"`
	}
	if err := json.Unmarshal([]byte(readStdout()), &got); err != nil {
		t.Fatalf("wineclient.cjs printed %q: %v", readStdout(), err)
	}
	for _, want := range []string{"abs__whoami", "bare__whoami"} {
		if !slices.Contains(got.Tools, want) {
			t.Errorf("the first list through mcpmux.exe lacks %s: %v", want, got.Tools)
		}
	}
	for tool, text := range got.Calls {
		if !strings.Contains(text, "hello from "+tool) {
			t.Errorf("%s through mcpmux.exe = %q, want the message back", tool, text)
		}
	}
}

// wineReloadThenKill: a serve picks up a server added to the file, and
// once mcpmux.exe is killed (SIGKILL to its Wine process), every upstream
// it started is gone within 5s.
func wineReloadThenKill(t *testing.T, w *wineBox) {
	// Servers that ignore their stdin's end once they have answered a call
	// (-freeze-after 1): only the Job Object, not the pipe's end, can end
	// them when mcpmux.exe dies.
	servers := map[string]any{
		"abs":  map[string]any{"command": "testserver.exe", "args": []string{"-name", "abs", "-freeze-after", "1"}},
		"bare": map[string]any{"command": "ts", "args": []string{"-name", "bare one", "-crlf", "-freeze-after", "1"}},
	}
	w.writeConfig(t, servers)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	stderr, readStderr := wineOutput(t, "stderr")
	tr := transport.NewStdioWithOptions("wine", w.env[len(os.Environ()):],
		[]string{w.exe(), "serve", "--config", w.config, "--data-dir", w.state},
		transport.WithCommandStderrWriter(stderr))
	c := client.NewClient(tr)
	defer func() {
		if t.Failed() {
			t.Logf("mcpmux.exe stderr:\n%s", readStderr())
		}
	}()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("starting wine mcpmux.exe serve: %v", err)
	}
	if _, err := initialize(ctx, c); err != nil {
		t.Fatalf("initializing mcpmux.exe: %v", err)
	}
	waitForTools(t, ctx, c, "abs__", "bare__")
	// The recorder writes every 2 s, through a store process of its own;
	// history reads the store beside it.
	testutil.WaitFor(t, "history to tell of both upstreams", func() bool {
		history := w.mcpmux(t, "history", "--config", w.config, "--data-dir", w.state)
		return strings.Contains(history, "abs") && strings.Contains(history, "bare")
	})
	if status := w.mcpmux(t, "status", "--config", w.config, "--data-dir", w.state); !strings.Contains(status, "ready") {
		t.Errorf("mcpmux.exe status while serve runs shows no ready upstream:\n%s", status)
	}

	servers["third"] = map[string]any{"command": "testserver.exe", "args": []string{"-name", "third", "-freeze-after", "1"}}
	w.writeConfig(t, servers)
	waitForTools(t, ctx, c, "third__")
	for _, tool := range []string{"third__whoami", "abs__whoami", "bare__whoami"} {
		res, err := c.CallTool(ctx, wineCall(tool, nil))
		if err != nil || res.IsError {
			t.Fatalf("%s after the reload = %v, %v", tool, res, err)
		}
	}
	if n := len(w.upstreams()); n != 3 {
		t.Errorf("%d test server processes run under Wine, want 3 (abs, bare, third): %v", n, w.upstreams())
	}

	var mux []testutil.Process
	for _, p := range testutil.Processes() {
		if strings.Contains(p.Cmdline, "mcpmux.exe") && strings.Contains(p.Cmdline, "serve") && strings.Contains(p.Cmdline, w.marker()) {
			mux = append(mux, p)
		}
	}
	if len(mux) == 0 {
		t.Fatal("no mcpmux.exe process found in /proc")
	}
	for _, p := range mux {
		_ = testutil.Kill(p.PID)
	}
	deadline := time.Now().Add(5 * time.Second)
	testutil.WaitFor(t, "the upstreams of the killed mcpmux.exe to be gone", func() bool {
		left := w.upstreams()
		if len(left) > 0 && time.Now().After(deadline) {
			t.Fatalf("upstreams alive 5s after kill -9 of mcpmux.exe: %v", left)
		}
		return len(left) == 0
	})
	_ = c.Close()
}

func wineCall(name string, args map[string]any) mcp.CallToolRequest {
	var req mcp.CallToolRequest
	req.Params.Name, req.Params.Arguments = name, args
	return req
}
