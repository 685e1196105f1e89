package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// directInstructions returns the instructions command gives a client of
// its own.
func directInstructions(t *testing.T, ctx context.Context, command string) string {
	t.Helper()
	c := newClient(transport.NewStdio(command, nil))
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := initialize(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	return res.Instructions
}

// nested is an upstream's instructions as mcpmux nests them under its
// section: every Markdown heading two levels down.
func nested(text string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "#") {
			lines[i] = "##" + l
		}
	}
	return strings.Join(lines, "\n")
}

// server-everything's instructions reach the client through mcpmux, under
// its prefix, cold (initialize waits for its handshake) and warm (from the
// cache, in a 2026-07-28 client's server/discover, while server-everything
// cannot start: its wrapper waits for a gate the test has closed).
// server-memory has none, and gets no section.
func TestInstructionsRelayed(t *testing.T) {
	testutil.CheckNoChildren(t)
	bin := everythingBin(t)
	memoryEntry := memory(t)
	ctx := testContext(t, testTimeout)
	want := directInstructions(t, ctx, bin)
	if want == "" {
		t.Fatal("server-everything gives no instructions")
	}
	t.Logf("server-everything's instructions: %d characters", utf8.RuneCountInString(want))

	gate := filepath.Join(t.TempDir(), "gate")
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	gated := map[string]any{"command": "sh", "args": []string{"-c", `while [ ! -e "$1" ]; do sleep 0.05; done; exec "$2"`, "sh", gate, bin}}
	// The bound is generous: this test is about what is relayed, on a
	// machine that may take seconds to start node (the bound is tested in
	// package proxy).
	data, _ := json.Marshal(map[string]any{"instructionsWait": "50s", "mcpServers": map[string]any{"everything": gated, "memory": memoryEntry}})
	config := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(config, data, 0o600); err != nil {
		t.Fatal(err)
	}
	section := "\n\n## everything__ tools\n\n" + nested(want)
	dataDir := t.TempDir()

	// Cold on initialize, whose wait this is (a 2026-07-28 client's
	// server/discover waits 1s at most); warm on server/discover.
	cold := startMcpmuxIn(t, ctx, config, dataDir, client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION))
	if got := cold.init.Instructions; !strings.Contains(got, section) || strings.Contains(got, "## memory__ tools") {
		t.Errorf("cold initialize's instructions =\n%s\nwant server-everything's in full under its prefix, nothing for server-memory", got)
	}
	waitForTools(t, ctx, cold.client, "everything__", "memory__")
	cold.stop()

	if err := os.Remove(gate); err != nil {
		t.Fatal(err)
	}
	warm := startMcpmuxIn(t, ctx, config, dataDir)
	if got := warm.init.Instructions; !strings.Contains(got, section) {
		t.Errorf("warm server/discover's instructions =\n%s\nwant server-everything's, from the cache", got)
	}
	if v := warm.client.ProtocolVersion(); v != mcp.LATEST_PROTOCOL_VERSION {
		t.Errorf("warm client speaks %s, want %s (server/discover)", v, mcp.LATEST_PROTOCOL_VERSION)
	}
	warm.stop()
}
