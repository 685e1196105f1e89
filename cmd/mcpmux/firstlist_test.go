package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// These tests run mcpmux against real upstream processes from a fresh data
// directory, as a new user's first session does. How long the waits take
// is measured by benchmarks; the exact timing of the waits is tested with
// fake upstreams under synctest in package proxy.

// The first lists of a session hold everything a direct client would get:
// they wait for the slow upstream, and not for the broken one.
func TestServeFirstListsComplete(t *testing.T) {
	testutil.CheckLeaks(t)
	config := writeConfig(t, map[string]any{
		"slow":   testutil.TestServer(t, "-name", "slow", "-start-delay", "3s"),
		"broken": map[string]any{"command": "/nonexistent/mcp-server"},
		"crashy": testutil.TestServer(t, "-crash-on-start"),
		"fast1":  testutil.TestServer(t, "-name", "fast1"),
		"fast2":  testutil.TestServer(t, "-name", "fast2"),
		"fast3":  testutil.TestServer(t, "-name", "fast3", "-late-tools", "1"),
	})
	m := serveInProcess(t, "--config", config, "--data-dir", t.TempDir())
	tools := m.tools()
	for _, want := range []string{"slow__echo", "fast1__echo", "fast2__echo", "fast3__echo", "fast3__late_0000"} {
		if !slices.Contains(tools, want) {
			t.Errorf("first tools/list lacks %s: %q", want, tools)
		}
	}
	prompts := names(t, m.request(10*time.Second, "prompts/list", nil), "prompts", "name")
	resources := names(t, m.request(10*time.Second, "resources/list", nil), "resources", "uri")
	templates := names(t, m.request(10*time.Second, "resources/templates/list", nil), "resourceTemplates", "uriTemplate")
	if !slices.Contains(prompts, "slow__greet") || len(resources) < 4 || len(templates) == 0 {
		t.Errorf("first lists: prompts %q, resources %q, templates %q; want the slow upstream's too", prompts, resources, templates)
	}
	// Both keep failing and retrying: caught between attempts or in one,
	// each has failed.
	for _, name := range []string{"broken", "crashy"} {
		if st := upstreamStatus(m.muxClient, name); st.LastError == "" || (st.State != "backoff" && st.State != "starting") {
			t.Errorf("upstream %s is %+v, want failed, in backoff or starting again", name, st)
		}
	}
}

// withStartTimeout returns entry with "startTimeout" set.
func withStartTimeout(entry map[string]any, d string) map[string]any {
	entry["startTimeout"] = d
	return entry
}

// A call right after initialize, before any list, waits for its upstream,
// and only for it: an upstream that never answers holds nothing up.
func TestServeCallRightAfterInitialize(t *testing.T) {
	testutil.CheckLeaks(t)
	config := writeConfig(t, map[string]any{
		"slow": testutil.TestServer(t, "-name", "slow", "-start-delay", "2s"),
		// Waiting for it would time the call out (10s) long before its
		// start timeout ends.
		"hung": withStartTimeout(testutil.TestServer(t, "-name", "hung", "-hang-initialize"), "10m"),
	})
	m := serveInProcess(t, "--config", config, "--data-dir", t.TempDir())
	if got := m.call(10*time.Second, "slow__echo", map[string]any{"message": "first"}); got != "first" {
		t.Errorf("slow__echo right after initialize = %q, want first", got)
	}
	if st := upstreamStatus(m.muxClient, "hung"); st.State != "starting" {
		t.Errorf("hung is %s, want still starting", st.State)
	}
	resp := m.send(10*time.Second, "tools/call", map[string]any{"name": "slow__ecoh"})
	if resp.Error == nil || resp.Error.Code != -32602 || !strings.Contains(resp.Error.Message, `did you mean "slow__echo"`) {
		t.Errorf("slow__ecoh = %+v, want -32602 suggesting slow__echo", resp.Error)
	}
}

// A one-shot client (connect, list, leave) fills the cache: the next run
// lists the upstream's tools from it while the upstream is still starting.
func TestServeOneShotClientThenWarm(t *testing.T) {
	testutil.CheckNoChildren(t)
	dataDir := t.TempDir()
	config := writeConfig(t, map[string]any{"a": testutil.TestServer(t, "-name", "a")})
	args := []string{"--config", config, "--data-dir", dataDir}

	first := serveProcess(t, nil, args...)
	if tools := first.tools(); !slices.Contains(tools, "a__echo") {
		t.Fatalf("one-shot client's tools/list = %q, want a__echo", tools)
	}
	first.stop()

	second := serveProcess(t, []string{"TESTSERVER_ARGS=-start-delay 3s -tools 1"}, args...)
	tools := second.tools()
	if !slices.Contains(tools, "a__echo") || slices.Contains(tools, "a__tool_0000") {
		t.Errorf("second run's first tools/list = %q, want the cached catalogue", tools)
	}
	if st := upstreamStatus(second.muxClient, "a"); st.State != "starting" {
		t.Errorf("upstream a is %s on the second run's first list, want still starting", st.State)
	}
}

// A rotated secret keeps the cached catalogue.
func TestServeRotatedSecretKeepsCache(t *testing.T) {
	testutil.CheckLeaks(t)
	dataDir := t.TempDir()
	entry := testutil.TestServer(t, "-name", "a")
	entry["env"] = map[string]string{"API_TOKEN": "${MCPMUX_TEST_TOKEN}"}
	config := writeConfig(t, map[string]any{"a": entry})
	t.Setenv("MCPMUX_TEST_TOKEN", "first-token-value")
	prime(t, config, dataDir, "a__echo")

	t.Setenv("MCPMUX_TEST_TOKEN", "rotated-token-value")
	t.Setenv("TESTSERVER_ARGS", "-start-delay 3s -tools 1")
	m := serveInProcess(t, "--config", config, "--data-dir", dataDir)
	tools := m.tools()
	if !slices.Contains(tools, "a__echo") || slices.Contains(tools, "a__tool_0000") {
		t.Errorf("first tools/list after rotating the token = %q, want the cached catalogue", tools)
	}
	if st := upstreamStatus(m.muxClient, "a"); st.State != "starting" {
		t.Errorf("upstream a is %s, want still starting: the list came from the cache", st.State)
	}
	if got := m.call(10*time.Second, "a__env", map[string]any{"name": "API_TOKEN"}); got != "rotated-token-value" {
		t.Errorf("the upstream sees API_TOKEN %q, want the rotated one", got)
	}
}

// `mcpmux tools` waits for every upstream and exits 1, naming the ones
// that failed, after printing what the others offer.
func TestToolsCommandWaitsAndFails(t *testing.T) {
	testutil.CheckLeaks(t)
	config := writeConfig(t, map[string]any{
		"slow":   testutil.TestServer(t, "-name", "slow", "-start-delay", "2s"),
		"broken": map[string]any{"command": "/nonexistent/mcp-server"},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr testutil.SyncBuffer
	err := run(ctx, []string{"tools", "--json", "--config", config}, strings.NewReader(""), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), `1 of 2 upstreams unavailable: "broken"`) {
		t.Errorf("mcpmux tools = %v, want an error naming broken", err)
	}
	if !strings.Contains(stderr.String(), `upstream "broken" is unavailable`) {
		t.Errorf("stderr does not explain broken:\n%s", stderr.String())
	}
	var tools []struct{ Name string }
	if err := json.Unmarshal([]byte(stdout.String()), &tools); err != nil || !slices.ContainsFunc(tools, func(t struct{ Name string }) bool { return t.Name == "slow__echo" }) {
		t.Errorf("mcpmux tools printed %s (%v), want slow's tools", stdout.String(), err)
	}
}
