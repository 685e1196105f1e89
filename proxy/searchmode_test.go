package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/registry"
)

// startSearch starts mcpmux in front of servers with the top-level keys
// top (toolMode search unless top says otherwise).
func startSearch(t *testing.T, servers map[string]any, top map[string]any, clientOpts ...client.ClientOption) *mux {
	t.Helper()
	if top == nil {
		top = map[string]any{}
	}
	if _, ok := top["toolMode"]; !ok {
		top["toolMode"] = "search"
	}
	return newMux(t, servers, muxOptions{protocol: mcp.LATEST_LEGACY_PROTOCOL_VERSION, top: top, client: clientOpts})
}

// searchResult is search_tools' structured result.
type searchResult struct {
	Tools []struct {
		Name, Server, Tool, Description string
		Score                           float64
	}
}

// search calls search_tools and returns its structured result and text.
func (m *mux) search(args map[string]any) (searchResult, string) {
	m.t.Helper()
	res := m.call("search_tools", args)
	var r struct {
		StructuredContent searchResult
		IsError           bool
	}
	if err := json.Unmarshal(res, &r); err != nil || r.IsError {
		m.t.Fatalf("search_tools %v = %s", args, truncate(res))
	}
	return r.StructuredContent, text(m.t, res)
}

func (r searchResult) names() []string {
	var out []string
	for _, h := range r.Tools {
		out = append(out, h.Name)
	}
	return out
}

// waitCatalogue waits until every server's catalogue is in the proxy.
func (m *mux) waitCatalogue(servers ...string) {
	m.t.Helper()
	for _, s := range servers {
		m.waitCatalogues(s, 1)
	}
}

func TestSearchModeListsThreeToolsAndTheAlwaysListed(t *testing.T) {
	m := startSearch(t, map[string]any{
		"a": testutil.TestServer(t, "-name", "a"),
		"b": withKeys(testutil.TestServer(t, "-name", "b"), map[string]any{"alwaysList": true}),
	}, map[string]any{"alwaysList": []string{"a__echo", "a__w*"}})
	m.waitCatalogue("a", "b")
	tools := m.tools()
	var names []string
	for name := range tools {
		names = append(names, name)
	}
	slices.Sort(names)
	want := []string{"a__echo", "a__weird_content", "a__whoami"}
	for _, ti := range m.srv.Tools() {
		if ti.Server == "b" {
			want = append(want, ti.Name)
		}
	}
	want = append(want, "call_tool", "describe_tools", "search_tools")
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("tools/list in search mode = %v, want %v", names, want)
	}
	for _, name := range []string{"search_tools", "describe_tools", "call_tool"} {
		var def struct {
			Meta map[string]any `json:"_meta"`
		}
		_ = json.Unmarshal(tools[name], &def)
		if def.Meta["anthropic/alwaysLoad"] != true {
			t.Errorf("%s's _meta = %v, want anthropic/alwaysLoad true", name, def.Meta)
		}
	}
	if mode, why := m.srv.ToolModeInForce(); mode != "search" || why != "toolMode is search" {
		t.Errorf("ToolModeInForce() = %q, %q", mode, why)
	}
}

// withKeys returns a config entry with more keys.
func withKeys(entry map[string]any, more map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range entry {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

func TestSearchDescribeAndCallMatchFullMode(t *testing.T) {
	m := startSearch(t, map[string]any{"a": testutil.TestServer(t, "-name", "a"), "b": testutil.TestServer(t, "-name", "b")}, nil)
	m.waitCatalogue("a", "b")
	got, text := m.search(map[string]any{"query": "add two numbers", "limit": 3})
	if len(got.Tools) == 0 || !strings.HasSuffix(got.Tools[0].Name, "__add") || got.Tools[0].Tool != "add" {
		t.Fatalf("search_tools(add two numbers) = %+v", got)
	}
	if h := got.Tools[0]; h.Server != strings.TrimSuffix(h.Name, "__add") || h.Description != "Adds a and b" || h.Score <= 0 {
		t.Errorf("hit = %+v", h)
	}
	if line := strings.Split(text, "\n")[0]; line != got.Tools[0].Name+": Adds a and b (a*: number, b*: number)" {
		t.Errorf("first line of the text = %q", line)
	}
	if got, _ := m.search(map[string]any{"query": "add two numbers", "server": "b"}); len(got.Tools) == 0 || got.Tools[0].Name != "b__add" {
		t.Errorf("search_tools in server b = %v", got.names())
	}

	res := m.call("describe_tools", map[string]any{"names": []string{"a__add", "b/slow", "a:echo"}})
	var described struct {
		StructuredContent struct{ Tools []json.RawMessage }
	}
	if err := json.Unmarshal(res, &described); err != nil || len(described.StructuredContent.Tools) != 3 {
		t.Fatalf("describe_tools = %s", truncate(res))
	}
	m.srv.SetToolMode(proxy.ToolMode{Mode: registry.ToolModeFull})
	full := m.tools()
	for i, name := range []string{"a__add", "b__slow", "a__echo"} {
		if !bytes.Equal(described.StructuredContent.Tools[i], full[name]) {
			t.Errorf("describe_tools %s =\n%s\nwant as full mode lists it\n%s", name, described.StructuredContent.Tools[i], full[name])
		}
	}
	direct := m.call("a__add", map[string]any{"a": 2, "b": 3})
	m.srv.SetToolMode(proxy.ToolMode{Mode: registry.ToolModeSearch})
	for _, name := range []string{"a__add", "a/add", "a:add"} {
		if got := m.call("call_tool", map[string]any{"name": name, "arguments": map[string]any{"a": 2, "b": 3}}); !bytes.Equal(got, direct) {
			t.Errorf("call_tool %s = %s, want the direct call's %s", name, got, direct)
		}
	}
}

func TestCallToolUnknownNameSuggests(t *testing.T) {
	m := startSearch(t, map[string]any{"a": testutil.TestServer(t, "-name", "a")}, nil)
	m.waitCatalogue("a")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, rpcErr, err := m.request(ctx, "tools/call", map[string]any{"name": "call_tool", "arguments": map[string]any{"name": "a__ech"}})
	if err != nil || rpcErr == nil || !strings.Contains(rpcErr.Message, `unknown tool "a__ech"; did you mean "a__echo"`) {
		t.Errorf("call_tool a__ech = %v %+v, want an unknown tool error with suggestions", err, rpcErr)
	}
	_, rpcErr, err = m.request(ctx, "tools/call", map[string]any{"name": "call_tool", "arguments": map[string]any{"name": "a__echo", "arguments": "x"}})
	if err != nil || rpcErr == nil || !strings.Contains(rpcErr.Message, `"arguments" must be an object`) {
		t.Errorf("call_tool with string arguments = %v %+v", err, rpcErr)
	}
	res := m.call("describe_tools", map[string]any{"names": []string{"nope"}})
	if !strings.Contains(string(res), `"isError":true`) || !strings.Contains(text(t, res), `unknown tool "nope"`) {
		t.Errorf("describe_tools nope = %s", res)
	}
}

func TestCallToolKeepsProgressCancellationAndSampling(t *testing.T) {
	log := filepath.Join(t.TempDir(), "seen.jsonl")
	m := startSearch(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-log-file", log)}, nil, client.WithSamplingHandler(sampler{}))
	m.waitCatalogue("a")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, rpcErr, err := m.request(ctx, "tools/call", map[string]any{
		"name": "call_tool", "arguments": map[string]any{"name": "a__slow", "arguments": map[string]int{"ms": 300}},
		"_meta": map[string]any{"progressToken": "tok"},
	})
	if err != nil || rpcErr != nil {
		t.Fatalf("call_tool a__slow = %v %+v", err, rpcErr)
	}
	if n := len(m.notifications("notifications/progress")); n != 6 {
		t.Errorf("got %d progress notifications, want 6 (300ms / 50ms)", n)
	}

	if got := text(t, m.call("call_tool", map[string]any{"name": "a__sample"})); got != "Paris, said the client" {
		t.Errorf("call_tool a__sample = %q, want the client's sample", got)
	}

	cctx, ccancel := context.WithCancel(context.Background())
	doomed := make(chan error, 1)
	go func() {
		_, err := m.client.CallTool(cctx, callReq("call_tool", map[string]any{"name": "a__slow", "arguments": map[string]any{"ms": 20000, "tag": "doomed"}}))
		doomed <- err
	}()
	testutil.WaitFor(t, "the call to reach the upstream", func() bool { return testutil.CountInFile(log, `"doomed"`) == 1 })
	ccancel()
	if err := <-doomed; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call = %v, want context.Canceled", err)
	}
	testutil.WaitFor(t, "the cancellation at the upstream", func() bool { return testutil.CountInFile(log, "notifications/cancelled") >= 1 })
	if got := cancelledIDs(t, log); len(got) != 1 || got[0] != requestIDOf(t, log, "doomed") {
		t.Errorf("upstream saw cancellations of %v, want the doomed request %s", got, requestIDOf(t, log, "doomed"))
	}
}

func TestSearchModeKeepsFiltersAndOverrides(t *testing.T) {
	m := startSearch(t, map[string]any{"a": withKeys(testutil.TestServer(t, "-name", "a"), map[string]any{
		"tools":         map[string]any{"deny": []string{"add"}},
		"toolOverrides": map[string]any{"whoami": map[string]any{"name": "identify", "description": "Tells which server answers: a lighthouse keeper"}},
	})}, nil)
	m.waitCatalogue("a")
	if got, _ := m.search(map[string]any{"query": "add numbers a and b", "limit": 50}); slices.Contains(got.names(), "a__add") {
		t.Errorf("search_tools found the denied a__add: %v", got.names())
	}
	got, _ := m.search(map[string]any{"query": "lighthouse keeper"})
	if len(got.Tools) == 0 || got.Tools[0].Name != "a__identify" || got.Tools[0].Tool != "whoami" {
		t.Errorf("search_tools(lighthouse keeper) = %+v, want the overridden a__identify", got.Tools)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, rpcErr, err := m.request(ctx, "tools/call", map[string]any{"name": "call_tool", "arguments": map[string]any{"name": "a/add", "arguments": map[string]any{"a": 1, "b": 2}}})
	if err != nil || rpcErr == nil || !strings.Contains(rpcErr.Message, "unknown tool") {
		t.Errorf("call_tool a/add (denied) = %v %+v, want unknown tool", err, rpcErr)
	}
	if got := text(t, m.call("call_tool", map[string]any{"name": "a/identify"})); got != "a" {
		t.Errorf("call_tool a/identify = %q", got)
	}
	res := m.call("describe_tools", map[string]any{"names": []string{"a__identify"}})
	if !strings.Contains(string(res), "lighthouse keeper") || !strings.Contains(string(res), `\"name\":\"a__identify\"`) && !strings.Contains(string(res), `"name":"a__identify"`) {
		t.Errorf("describe_tools a__identify = %s", truncate(res))
	}
}

func TestSearchModeReindexesWithoutListChanged(t *testing.T) {
	m := startSearch(t, map[string]any{"a": testutil.TestServer(t, "-name", "a")}, nil)
	m.waitCatalogue("a")
	m.tools() // the client has listed: it would be told of changes
	if got, _ := m.search(map[string]any{"query": "added_1"}); len(got.Tools) != 0 {
		t.Fatalf("search_tools found %v before the change", got.names())
	}
	m.call("call_tool", map[string]any{"name": "a__list_changed"})
	m.waitCatalogues("a", 2)
	got, _ := m.search(map[string]any{"query": "added_1"})
	if len(got.Tools) == 0 || got.Tools[0].Name != "a__added_1" {
		t.Errorf("search_tools(added_1) after the change = %v", got.names())
	}
	// The listed set did not change: no list_changed (the debounce is
	// 10ms; a search's round trip comes after it would have been sent).
	m.search(map[string]any{"query": "echo"})
	if n := len(m.notifications("notifications/tools/list_changed")); n != 0 {
		t.Errorf("%d tools/list_changed in search mode for an unlisted tool", n)
	}
}

func TestAutoModeSwitchesAtTheBudget(t *testing.T) {
	m := newMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a")}, muxOptions{protocol: mcp.LATEST_LEGACY_PROTOCOL_VERSION,
		top: map[string]any{"toolMode": "auto", "toolBudget": map[string]any{"tools": 19}}})
	m.waitCatalogue("a")
	if n := len(m.tools()); n != 19 {
		t.Fatalf("auto mode under the budget lists %d tools, want the 19 of a", n)
	}
	if mode, why := m.srv.ToolModeInForce(); mode != "full" || !strings.Contains(why, "fit the budget of 19 tools") {
		t.Errorf("ToolModeInForce() = %q, %q", mode, why)
	}
	m.call("a__list_changed", nil) // a 20th tool
	testutil.WaitFor(t, "tools/list_changed", func() bool { return len(m.notifications("notifications/tools/list_changed")) > 0 })
	tools := m.tools()
	if _, ok := tools["search_tools"]; !ok || len(tools) != 3 {
		t.Errorf("auto mode past the budget lists %d tools, want search mode's 3", len(tools))
	}
	if mode, why := m.srv.ToolModeInForce(); mode != "search" || why != "auto: 20 tools exceed the budget of 19" {
		t.Errorf("ToolModeInForce() = %q, %q", mode, why)
	}
	var res struct {
		Contents []struct{ Text string }
	}
	_ = json.Unmarshal(m.must("resources/read", map[string]string{"uri": "mcpmux://status"}), &res)
	var status struct {
		ToolMode struct {
			Configured, Mode, Why string
			Tools                 int
		}
	}
	if len(res.Contents) != 1 || json.Unmarshal([]byte(res.Contents[0].Text), &status) != nil ||
		status.ToolMode.Configured != "auto" || status.ToolMode.Mode != "search" || status.ToolMode.Why != "auto: 20 tools exceed the budget of 19" || status.ToolMode.Tools != 20 {
		t.Errorf("mcpmux://status's toolMode = %+v", status.ToolMode)
	}
}

func TestFullModeWarnsPastHostLimits(t *testing.T) {
	m := newMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-tools", "120")}, muxOptions{protocol: mcp.LATEST_LEGACY_PROTOCOL_VERSION,
		top: map[string]any{"toolMode": "full"}})
	m.waitCatalogue("a")
	if w := m.srv.ToolWarnings(); len(w) != 1 || !strings.HasPrefix(w[0], "139 tools: VS Code sends at most 128") {
		t.Errorf("ToolWarnings() = %q", w)
	}
}

func TestSearchModeInstructionsListTheUpstreams(t *testing.T) {
	m := startSearch(t, map[string]any{"a": testutil.TestServer(t, "-name", "a"), "b": withKeys(testutil.TestServer(t, "-name", "b"), map[string]any{"prefix": "bee"})}, nil)
	m.waitCatalogue("a", "b")
	got := m.srv.Instructions()
	for _, want := range []string{"search_tools", "\n- a (a__*)", "\n- b (bee__*)"} {
		if !strings.Contains(got, want) {
			t.Errorf("Instructions() = %q, want %q in it", got, want)
		}
	}
}

func TestProfileReloads(t *testing.T) {
	m := newMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a"), "b": testutil.TestServer(t, "-name", "b")}, muxOptions{
		protocol: mcp.LATEST_LEGACY_PROTOCOL_VERSION, profile: "p",
		top: map[string]any{"toolMode": "full", "profiles": map[string]any{"p": map[string]any{"servers": []string{"a"}, "tools": map[string]any{"allow": []string{"*echo", "*add"}}}}},
	})
	m.waitCatalogue("a", "b")
	if names := sortedKeys(m.tools()); !slices.Equal(names, []string{"a__add", "a__echo"}) {
		t.Fatalf("profile p lists %v", names)
	}
	m.srv.SetToolMode(proxy.ToolMode{Mode: registry.ToolModeFull, Profiles: map[string]*registry.Profile{"p": {Name: "p", Servers: []string{"b"}, Tools: registry.ToolFilter{Allow: []string{"*echo"}}}}})
	testutil.WaitFor(t, "tools/list_changed", func() bool { return len(m.notifications("notifications/tools/list_changed")) > 0 })
	if names := sortedKeys(m.tools()); !slices.Equal(names, []string{"b__echo"}) {
		t.Errorf("profile p lists %v after the reload, want b__echo", names)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, rpcErr, err := m.request(ctx, "tools/call", map[string]any{"name": "a__echo"}); err != nil || rpcErr == nil || !strings.Contains(rpcErr.Message, "unknown tool") {
		t.Errorf("calling a__echo outside the profile = %v %+v", err, rpcErr)
	}
	m.srv.SetToolMode(proxy.ToolMode{Mode: registry.ToolModeFull})
	if n := len(m.tools()); n != 0 {
		t.Errorf("a removed profile lists %d tools, want none", n)
	}
}

func sortedKeys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestSearchModeIndexesABigCatalogue indexes a catalogue big enough for
// its definitions to be read on several CPUs at once (searchDocs), two
// servers of 700 tools, and finds a tool of each.
func TestSearchModeIndexesABigCatalogue(t *testing.T) {
	m := startSearch(t, map[string]any{
		"a": testutil.TestServer(t, "-name", "a", "-tools", "700"),
		"b": testutil.TestServer(t, "-name", "b", "-tools", "700"),
	}, nil)
	m.waitCatalogue("a", "b")
	for _, want := range []string{"a__tool_0007", "b__tool_0642"} {
		got, _ := m.search(map[string]any{"query": strings.TrimPrefix(strings.TrimPrefix(want, "a__"), "b__"), "server": want[:1]})
		if len(got.Tools) == 0 || got.Tools[0].Name != want {
			t.Errorf("search_tools for %s = %v", want, got.names())
		}
	}
}
