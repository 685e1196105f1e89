package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// benchTimeout bounds one sub-benchmark, setup included.
const benchTimeout = 5 * time.Minute

// BenchmarkToolCall measures one echo call to server-everything, made
// directly and through mcpmux, one call at a time. Both clients speak
// 2025-11-25, so the two differ only by mcpmux's hop. The mcpmux binary is
// built with -race unless MCPMUX_BENCH_NORACE=1.
func BenchmarkToolCall(b *testing.B) {
	bin := everythingBin(b)
	pinned := client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION)
	b.Run("direct", func(b *testing.B) {
		ctx := testContext(b, benchTimeout)
		benchEcho(b, ctx, startDirect(b, ctx, bin, pinned), "echo")
	})
	b.Run("mcpmux", func(b *testing.B) {
		ctx := testContext(b, benchTimeout)
		m := startMcpmux(b, ctx, writeConfig(b, map[string]any{"everything": map[string]any{"command": bin}}), pinned)
		waitForTools(b, ctx, m.client, "everything__")
		benchEcho(b, ctx, m.client, "everything__echo")
	})
}

func benchEcho(b *testing.B, ctx context.Context, c *client.Client, tool string) {
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = map[string]any{"message": "bench"}
	for b.Loop() {
		res, err := c.CallTool(ctx, req)
		if err != nil || res.IsError {
			b.Fatalf("CallTool(%s) = %+v, %v", tool, res, err)
		}
	}
}
