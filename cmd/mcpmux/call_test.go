package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// runLineCtx runs one command line, bounded by a generous hang guard.
func runLineCtx(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut testutil.SyncBuffer
	err = run(ctx, args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

// mcpmux call calls a tool through the merged catalogue, by its exposed
// name, and prints its text; --json prints the whole result.
func TestCallCommand(t *testing.T) {
	testutil.CheckNoChildren(t)
	testutil.CheckNoGoroutineLeak(t)
	config := writeConfig(t, map[string]any{"a": testutil.TestServer(t, "-name", "a"), "b": testutil.TestServer(t, "-name", "b")})
	out, errOut, err := runLineCtx(t, "call", "b__echo", "--config", config, "--args", `{"message": "hello there"}`)
	if err != nil || out != "hello there\n" {
		t.Errorf("call b__echo = %q, %v\n%s", out, err, errOut)
	}
	out, _, err = runLineCtx(t, "call", "--json", "--config", config, "a__echo", "--args", `{"message": "x"}`)
	var res struct{ Content []struct{ Type, Text string } }
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || len(res.Content) != 1 || res.Content[0].Text != "x" {
		t.Errorf("call --json = %q, %v", out, err)
	}
	_, _, err = runLineCtx(t, "call", "a__ecko", "--config", config)
	if err == nil || !strings.Contains(err.Error(), "a__echo") {
		t.Errorf("call a__ecko = %v, want an error suggesting a__echo", err)
	}
	if _, _, err := runLineCtx(t, "call", "a__echo", "--args", "[1]", "--config", config); err == nil || !strings.Contains(err.Error(), "--args must be a JSON object") {
		t.Errorf("call with --args [1] = %v", err)
	}
	if _, _, err := runLineCtx(t, "call", "--config", config); err == nil || !strings.Contains(err.Error(), "name the tool") {
		t.Errorf("call without a tool = %v", err)
	}
	if _, _, err := runLineCtx(t, "call", "a__fail", "--config", config); !errors.Is(err, errToolFailed) {
		t.Errorf("call of a failing tool = %v", err)
	}
}

// mcpmux tools lists prompts and resources on demand, and --json gives
// each tool as the client sees it, schema included.
func TestToolsPromptsResources(t *testing.T) {
	testutil.CheckNoChildren(t)
	testutil.CheckNoGoroutineLeak(t)
	config := writeConfig(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-resources", "1")})
	out, errOut, err := runLineCtx(t, "tools", "--prompts", "--resources", "--config", config)
	if err != nil {
		t.Fatalf("tools = %v\n%s", err, errOut)
	}
	for _, want := range []string{"a__echo           a       echo", "PROMPT", "a__greet", "RESOURCE", "test://a/res/0"} {
		if !strings.Contains(out, want) {
			t.Errorf("tools --prompts --resources printed\n%s\nwant %q", out, want)
		}
	}
	if strings.Contains(errOut, " WRN ") || strings.Contains(errOut, " ERR ") {
		t.Errorf("a normal tools run warned:\n%s", errOut)
	}
	out, _, err = runLineCtx(t, "tools", "--json", "--config", config)
	var tools []struct {
		Name, Server, Original string
		Tool                   struct {
			Name        string
			InputSchema json.RawMessage
		}
	}
	if err != nil || json.Unmarshal([]byte(out), &tools) != nil || len(tools) == 0 {
		t.Fatalf("tools --json = %v\n%s", err, out)
	}
	for _, tl := range tools {
		if tl.Tool.Name != tl.Name || len(tl.Tool.InputSchema) == 0 || tl.Server != "a" {
			t.Errorf("tools --json entry %+v, want the tool as the client sees it, with its schema", tl)
		}
	}
	out, _, err = runLineCtx(t, "tools", "--json", "--prompts", "--config", config)
	var cat struct{ Tools, Prompts []json.RawMessage }
	if err != nil || json.Unmarshal([]byte(out), &cat) != nil || len(cat.Tools) == 0 || len(cat.Prompts) == 0 {
		t.Errorf("tools --json --prompts = %v\n%s", err, out)
	}
}

var progressLine = regexp.MustCompile(`^mcpmux: [a-z]+ ready \([0-9]+ of [0-9]+\)\n$`)

// An upstream's stderr is logged at debug unless its entry says
// "logStderr": "info"; --log-file takes the log instead of stderr.
func TestUpstreamStderrLevel(t *testing.T) {
	testutil.CheckNoChildren(t)
	quiet, loud := testutil.TestServer(t, "-name", "quiet", "-stderr-chatter"), testutil.TestServer(t, "-name", "loud", "-stderr-chatter")
	loud["logStderr"] = "info"
	config := writeConfig(t, map[string]any{"quiet": quiet, "loud": loud})
	logFile := filepath.Join(t.TempDir(), "mcpmux.log")
	_, errOut, err := runLineCtx(t, "call", "quiet__echo", "--args", `{"message": "m"}`, "--config", config, "--log-file", logFile)
	if err != nil {
		t.Fatal(err)
	}
	// Piped, stderr has the progress only: a plain line per upstream.
	for line := range strings.Lines(errOut) {
		if !progressLine.MatchString(line) {
			t.Errorf("with --log-file, stderr got %q", line)
		}
	}
	if strings.Count(errOut, "\n") != 2 {
		t.Errorf("progress = %q, want a line per upstream", errOut)
	}
	log, _ := os.ReadFile(logFile)
	if strings.Contains(string(log), "upstream stderr upstream=quiet") || !strings.Contains(string(log), "upstream stderr upstream=loud") {
		t.Errorf("log at info =\n%s\nwant loud's stderr only", log)
	}
}
