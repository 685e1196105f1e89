package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// writeConfigWith writes a configuration with servers and the top-level
// settings top, and returns its path. Its tool mode is full unless top
// says otherwise: search mode's instructions are another text.
func writeConfigWith(tb testing.TB, top map[string]any, servers map[string]any) string {
	tb.Helper()
	doc := map[string]any{"mcpServers": servers, "toolMode": "full"}
	for k, v := range top {
		doc[k] = v
	}
	data, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "config.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// sections splits mcpmux's instructions into its own part and each
// upstream's, by heading.
func sections(text string) (own string, parts map[string]string) {
	text, _, _ = strings.Cut(text, "\n\n(mcpmux left out")
	chunks := strings.Split(text, "\n\n## ")
	parts = map[string]string{}
	for _, c := range chunks[1:] {
		head, body, _ := strings.Cut(c, "\n\n")
		parts[head] = body
	}
	return chunks[0], parts
}

// Cold, initialize waits for the upstreams' handshakes, not for their
// catalogues, and carries each one's instructions under its prefix,
// capped per upstream and in total.
func TestServeInstructionsCold(t *testing.T) {
	testutil.CheckLeaks(t)
	prefixed := testutil.TestServer(t, "-name", "alpha", "-instructions", "Use al__echo to greet. # not a heading\n# Alpha guide\nText.")
	prefixed["prefix"] = "al"
	bare := testutil.TestServer(t, "-name", "bare", "-instructions", "Bare text.")
	bare["prefix"] = ""
	servers := map[string]any{
		"alpha": prefixed,
		"bare":  bare,
		// Its handshake comes late, its catalogue never: initialize
		// waits for the one and not the other.
		"slowlist": testutil.TestServer(t, "-name", "slowlist", "-instructions", "Slow list.", "-start-delay", "1s", "-slow-list", "1h"),
		"silent":   testutil.TestServer(t, "-name", "silent"),
	}
	for _, name := range []string{"big1", "big2", "big3", "big4"} {
		servers[name] = testutil.TestServer(t, "-name", name, "-instructions", name+" says:", "-instructions-size", "3000")
	}
	// A generous bound: this test is about what waits, not how long.
	config := writeConfigWith(t, map[string]any{"instructionsWait": "50s"}, servers)
	m := serveInProcess(t, "--config", config, "--data-dir", t.TempDir())

	text := m.init.Instructions
	own, parts := sections(text)
	if !strings.HasPrefix(own, "mcpmux serves") {
		t.Errorf("instructions start %q, want mcpmux's own text first", own)
	}
	want := map[string]string{
		"al__ tools":             "Use al__echo to greet. # not a heading\n### Alpha guide\nText.",
		"bare tools (no prefix)": "Bare text.",
		"slowlist__ tools":       "Slow list.",
	}
	for head, body := range want {
		if parts[head] != body {
			t.Errorf("section %q = %q, want %q\nwhole text:\n%s", head, parts[head], body, text)
		}
	}
	if _, ok := parts["silent__ tools"]; ok {
		t.Errorf("a server without instructions has a section:\n%s", text)
	}
	for _, name := range []string{"big1", "big2", "big3"} {
		body := parts[name+"__ tools"]
		if len(body) > 2048 || !strings.HasPrefix(body, name+" says: w0001") || !strings.Contains(body, `(mcpmux cut "`+name+`"'s instructions here, at 2 KB of 3000 bytes.)`) {
			t.Errorf("section of %s (%d bytes) = %q, want the first 2 KB and a note", name, len(body), body)
		}
	}
	if _, ok := parts["big4__ tools"]; ok || !strings.Contains(text, `mcpmux left out the instructions of "big4"`) || len(text) > 8192 {
		t.Errorf("instructions (%d bytes) = \n%s\nwant big4 left out with a note, within 8 KB", len(text), text)
	}
	// The handshake was enough: the catalogue is still being read.
	if st := upstreamStatus(m.muxClient, "slowlist"); st.State != "starting" {
		t.Errorf("slowlist is %s at initialize's answer, want still starting (listing)", st.State)
	}
}

// Initialize waits for a handshake at most "instructionsWait", then
// answers with the instructions it has.
func TestServeInstructionsWaitBound(t *testing.T) {
	testutil.CheckLeaks(t)
	config := writeConfigWith(t, map[string]any{"instructionsWait": "300ms"}, map[string]any{
		"alpha": testutil.TestServer(t, "-name", "alpha", "-instructions", "Alpha text."),
		"hung":  withStartTimeout(testutil.TestServer(t, "-name", "hung", "-instructions", "Hung text.", "-hang-initialize"), "10m"),
	})
	m := serveInProcess(t, "--config", config, "--data-dir", t.TempDir())
	// alpha may or may not have shaken hands in 300ms on a loaded
	// machine; hung never does.
	if _, parts := sections(m.init.Instructions); parts["hung__ tools"] != "" {
		t.Errorf("instructions hold hung's, which never answered initialize:\n%s", m.init.Instructions)
	}
	if st := upstreamStatus(m.muxClient, "hung"); st.State != "starting" {
		t.Errorf("hung is %s, want still starting", st.State)
	}
}

// A host that kills mcpmux right after its first complete tools/list (as
// Codex does, 40 ms after) loses nothing: the next start answers its first
// list, and initialize's instructions, from the cache while the upstreams
// are still starting (their gate is shut, so no timing is involved).
func TestServeKilledAfterFirstListThenWarm(t *testing.T) {
	testutil.CheckNoChildren(t)
	dataDir := t.TempDir()
	config := writeConfig(t, map[string]any{
		"fast": testutil.TestServer(t, "-name", "fast", "-instructions", "Fast text."),
		// The last catalogue of the first list, as a slow upstream's is.
		"slow": testutil.TestServer(t, "-name", "slow", "-instructions", "Slow text.", "-start-delay", "1s"),
	})
	args := []string{"--config", config, "--data-dir", dataDir}

	first := serveProcess(t, nil, args...)
	if tools := first.tools(); !slices.Contains(tools, "fast__echo") || !slices.Contains(tools, "slow__echo") {
		t.Fatalf("first run's tools/list = %q, want both upstreams' tools", tools)
	}
	first.kill() // at once: sooner than any host does

	gate := filepath.Join(t.TempDir(), "gate")
	second := serveProcess(t, []string{"TESTSERVER_ARGS=-start-gate " + gate}, args...)
	_, parts := sections(second.init.Instructions)
	if parts["fast__ tools"] != "Fast text." || parts["slow__ tools"] != "Slow text." {
		t.Errorf("warm start's instructions = %q, want both upstreams' from the cache", second.init.Instructions)
	}
	tools := second.tools()
	if !slices.Contains(tools, "fast__echo") || !slices.Contains(tools, "slow__echo") {
		t.Errorf("warm start's first tools/list = %q, want every catalogue the killed run listed", tools)
	}
	for _, name := range []string{"fast", "slow"} {
		if st := upstreamStatus(second.muxClient, name); st.State != "starting" {
			t.Errorf("upstream %s is %s on the warm start's first list, want still starting (its gate is shut)", name, st.State)
		}
	}
	second.stop()
}

// --log-file makes its directory (0700) when it does not exist.
func TestServeLogFileMakesDirectory(t *testing.T) {
	testutil.CheckLeaks(t)
	dir := filepath.Join(t.TempDir(), "logs", "mcpmux")
	logFile := filepath.Join(dir, "x.log")
	config := writeConfig(t, map[string]any{"a": testutil.TestServer(t, "-name", "a")})
	m := serveInProcess(t, "--config", config, "--data-dir", t.TempDir(), "--log-file", logFile)
	m.waitTools("a__echo")
	m.stop()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("--log-file's directory: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("--log-file's directory has mode %o, want 700", perm)
	}
	if log, err := os.ReadFile(logFile); err != nil || !strings.Contains(string(log), "upstream=a") {
		t.Errorf("log file = %q (%v), want the log", log, err)
	}
}

// BenchmarkWarmStartAfterKill measures the scenario: a cold
// session killed (SIGKILL) as soon as its first complete tools/list
// arrives, then a warm start whose upstreams take 3s to start: the time
// from starting mcpmux to the answers of initialize (with every
// upstream's instructions) and of the first tools/list (with every tool),
// both from the cache. Run it with -benchtime=3x or so.
func BenchmarkWarmStartAfterKill(b *testing.B) {
	testutil.CheckNoChildren(b)
	config := writeConfig(b, map[string]any{
		"fast": testutil.TestServer(b, "-name", "fast", "-instructions", "Fast text."),
		"slow": testutil.TestServer(b, "-name", "slow", "-instructions", "Slow text.", "-start-delay", "1s"),
	})
	var initMs, listMs float64
	for range b.N {
		b.StopTimer()
		dataDir := b.TempDir()
		args := []string{"--config", config, "--data-dir", dataDir}
		cold := serveProcess(b, nil, args...)
		cold.tools()
		cold.kill()
		b.StartTimer()
		warm := serveProcess(b, []string{"TESTSERVER_ARGS=-start-delay 3s"}, args...)
		initialized := time.Since(warm.started)
		tools := warm.tools()
		listed := time.Since(warm.started)
		b.StopTimer()
		if _, parts := sections(warm.init.Instructions); len(parts) != 2 || !slices.Contains(tools, "slow__echo") {
			b.Fatalf("warm start: instructions %q, tools %q; want both upstreams' from the cache", warm.init.Instructions, tools)
		}
		initMs += float64(initialized.Microseconds()) / 1000
		listMs += float64(listed.Microseconds()) / 1000
		warm.stop()
	}
	b.ReportMetric(initMs/float64(b.N), "ms-to-initialize")
	b.ReportMetric(listMs/float64(b.N), "ms-to-first-list")
}
