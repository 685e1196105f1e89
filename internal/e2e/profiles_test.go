package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// profilesConfig writes a configuration of two test servers and two
// profiles: dev (server a without its add tool, in full mode) and look
// (server b, in search mode).
func profilesConfig(tb testing.TB) string {
	tb.Helper()
	data, _ := json.MarshalIndent(map[string]any{
		"mcpServers": map[string]any{"a": testutil.TestServer(tb, "-name", "a"), "b": testutil.TestServer(tb, "-name", "b")},
		"profiles": map[string]any{
			"dev":  map[string]any{"servers": []string{"a"}, "tools": map[string]any{"deny": []string{"a__add"}}, "toolMode": "full"},
			"look": map[string]any{"servers": []string{"b"}, "toolMode": "search"},
		},
	}, "", "  ")
	path := filepath.Join(tb.TempDir(), "config.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// listedNames lists c's tools by name, sorted.
func listedNames(tb testing.TB, ctx context.Context, c *client.Client) []string {
	tb.Helper()
	res, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		tb.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	return names
}

// callErr calls a tool and returns the protocol error, if any.
func callErr(ctx context.Context, c *client.Client, name string, args map[string]any) error {
	var req mcp.CallToolRequest
	req.Params.Name, req.Params.Arguments = name, args
	_, err := c.CallTool(ctx, req)
	return err
}

// checkDev checks what a client of profile dev sees and reaches.
func checkDev(t *testing.T, ctx context.Context, c *client.Client, over string) {
	t.Helper()
	names := listedNames(t, ctx, c)
	if len(names) != 18 || !slices.Contains(names, "a__echo") || slices.Contains(names, "a__add") {
		t.Errorf("%s: profile dev lists %v, want a's 19 tools but a__add", over, names)
	}
	for _, name := range []string{"b__echo", "a__add"} {
		if err := callErr(ctx, c, name, map[string]any{"a": 1, "b": 2}); err == nil || !strings.Contains(err.Error(), "unknown tool") {
			t.Errorf("%s: profile dev calling %s = %v, want unknown tool", over, name, err)
		}
	}
	if err := callErr(ctx, c, "a__echo", map[string]any{"message": "hi"}); err != nil {
		t.Errorf("%s: profile dev calling a__echo = %v", over, err)
	}
}

// TestProfilesOverStdioAndHTTP serves two profiles of one configuration:
// over stdio with serve --profile, over streamable HTTP and HTTP+SSE at
// /mcp/p/NAME and /sse/p/NAME behind the token. Each client lists,
// searches and calls its profile's tools only; a tool outside it is
// unknown, by name and through call_tool.
func TestProfilesOverStdioAndHTTP(t *testing.T) {
	testutil.CheckNoChildren(t)
	ctx := testContext(t, testTimeout)
	cfg := profilesConfig(t)

	stderr := &testutil.SyncBuffer{}
	stdio := newClient(transport.NewStdioWithOptions(mcpmuxBin(t), nil, []string{"serve", "--profile", "dev", "--config", cfg, "--data-dir", t.TempDir()},
		transport.WithCommandStderrWriter(stderr)))
	t.Cleanup(func() {
		_ = stdio.Close()
		if t.Failed() {
			t.Logf("mcpmux serve --profile dev stderr:\n%s", stderr.String())
		}
	})
	if err := stdio.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := initialize(ctx, stdio); err != nil {
		t.Fatal(err)
	}
	checkDev(t, ctx, stdio, "stdio")
	_ = stdio.Close()

	const token = "e2e-profile-token-4711"
	m := startMcpmuxHTTP(t, ctx, cfg, []string{"MCPMUX_TOKEN=" + token})
	auth := map[string]string{"Authorization": "Bearer " + token}
	for _, tt := range []struct {
		path, auth string
		want       int
	}{{"/mcp/p/dev", "", http.StatusUnauthorized}, {"/mcp/p/nope", "Bearer " + token, http.StatusNotFound}} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, m.base+tt.path, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		req.Header.Set("Accept", "application/json, text/event-stream")
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("POST %s = %d, want %d", tt.path, resp.StatusCode, tt.want)
		}
	}
	http.DefaultClient.CloseIdleConnections()

	sse, err := client.NewSSEMCPClient(m.base+"/sse/p/dev", transport.WithHeaders(auth))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sse.Close() })
	if err := sse.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := initialize(ctx, sse); err != nil {
		t.Fatal(err)
	}
	checkDev(t, ctx, sse, "HTTP+SSE")

	look, err := client.NewStreamableHttpClient(m.base+"/mcp/p/look", transport.WithHTTPHeaders(auth))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = look.Close() })
	if err := look.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := initialize(ctx, look); err != nil {
		t.Fatal(err)
	}
	if names := listedNames(t, ctx, look); !slices.Equal(names, []string{"call_tool", "describe_tools", "search_tools"}) {
		t.Errorf("profile look lists %v, want search mode's three tools", names)
	}
	var req mcp.CallToolRequest
	req.Params.Name, req.Params.Arguments = "search_tools", map[string]any{"query": "echo the message", "limit": 50}
	res, err := look.CallTool(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	found, _ := json.Marshal(res.StructuredContent)
	if !strings.Contains(string(found), `"b__echo"`) || strings.Contains(string(found), `"a__`) {
		t.Errorf("profile look's search_tools found %s, want b's tools only", found)
	}
	if err := callErr(ctx, look, "call_tool", map[string]any{"name": "a__echo", "arguments": map[string]any{"message": "hi"}}); err == nil || !strings.Contains(err.Error(), "unknown tool") {
		t.Errorf("profile look's call_tool a__echo = %v, want unknown tool", err)
	}
	if err := callErr(ctx, look, "a__echo", map[string]any{"message": "hi"}); err == nil || !strings.Contains(err.Error(), "unknown tool") {
		t.Errorf("profile look calling a__echo directly = %v, want unknown tool", err)
	}
	if err := callErr(ctx, look, "call_tool", map[string]any{"name": "b/echo", "arguments": map[string]any{"message": "hi"}}); err != nil {
		t.Errorf("profile look's call_tool b/echo = %v", err)
	}
}
