package proxy_test

import (
	"context"
	"testing"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// BenchmarkToolCall measures one echo call through an in-process mcpmux
// against the same call made directly to the same kind of upstream process.
// The difference is what mcpmux adds per call.
func BenchmarkToolCall(b *testing.B) {
	params := map[string]any{"name": "echo", "arguments": map[string]string{"message": "hello"}}
	run := func(b *testing.B, tr transport.Interface, params any) {
		ctx := context.Background()
		b.ReportAllocs()
		var id int64
		for b.Loop() {
			id++ // mcp-go's stdio transport needs ids that are not reused
			resp, err := tr.SendRequest(ctx, transport.JSONRPCRequest{JSONRPC: "2.0", ID: mcp.NewRequestId(id), Method: "tools/call", Params: params})
			if err != nil || resp.Error != nil {
				b.Fatalf("tools/call = %v %+v", err, resp)
			}
		}
	}
	b.Run("direct", func(b *testing.B) {
		run(b, direct(b, "-name", "a"), params)
	})
	b.Run("mcpmux", func(b *testing.B) {
		m := startMux(b, map[string]any{"a": testutil.TestServer(b, "-name", "a")})
		m.waitTools("a__echo")
		run(b, m.raw, map[string]any{"name": "a__echo", "arguments": map[string]string{"message": "hello"}})
	})
}
