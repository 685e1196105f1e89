package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// TestBrokenUpstreamHarmsNothing runs server-everything next to upstreams
// that cannot start, exit at once, or never answer initialize: the client's
// first list must hold everything's tools (the silent one holds it up for
// its start timeout only), the client must be able to call them, and an
// unknown tool must get a JSON-RPC error that names it.
func TestBrokenUpstreamHarmsNothing(t *testing.T) {
	testutil.CheckNoChildren(t)
	cfg := writeConfig(t, map[string]any{
		"everything": everything(t),
		"missing":    map[string]any{"command": filepath.Join(t.TempDir(), "no-such-command")},
		"exits":      map[string]any{"command": "sh", "args": []string{"-c", "exit 3"}},
		"silent":     map[string]any{"command": "sh", "args": []string{"-c", "echo garbage; sleep 1000"}, "startTimeout": "3s"},
	})
	ctx := testContext(t, testTimeout)
	start := time.Now()
	m := startMcpmux(t, ctx, cfg)
	first, err := m.client.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("first tools/list: %v", err)
	}
	tools := first.Tools
	t.Logf("first tools/list answered %s after mcpmux started", time.Since(start).Round(time.Millisecond))
	if !hasPrefixes(tools, []string{"everything__"}) {
		t.Errorf("first tools/list lacks everything's tools: %d tools", len(tools))
	}
	for _, tool := range tools {
		if !strings.HasPrefix(tool.Name, "everything__") {
			t.Errorf("tools/list has %q, from a broken upstream", tool.Name)
		}
	}

	req := mcp.CallToolRequest{}
	req.Params.Name = "everything__echo"
	req.Params.Arguments = map[string]any{"message": "still here"}
	res, err := m.client.CallTool(ctx, req)
	if err != nil || res.IsError {
		t.Fatalf("CallTool(everything__echo) = %+v, %v; want a result", res, err)
	}

	resp, err := rawRequest(ctx, m.client, "tools/call", json.RawMessage(`{"name":"nope__x","arguments":{}}`))
	if err != nil {
		t.Fatalf("tools/call nope__x: %v", err)
	}
	if resp.Error == nil {
		t.Fatalf("tools/call nope__x = result %s, want a JSON-RPC error", resp.Result)
	}
	if !strings.Contains(resp.Error.Message, "nope__x") {
		t.Errorf("tools/call nope__x error = %d %q, want a message naming nope__x", resp.Error.Code, resp.Error.Message)
	}
}
