package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// TestSearchModeThroughTheTSClient runs mcpmux serve --tool-mode search
// in front of the real server-everything and server-memory, and drives it
// with the official TypeScript SDK client: it lists the three tools,
// searches, describes (the definitions as full mode lists them) and calls
// through call_tool (what a direct call returns).
func TestSearchModeThroughTheTSClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found on PATH")
	}
	modules := testutil.NPMModules(t, testutil.SDKPkg, testutil.SDKVersion)
	cfg := writeConfig(t, map[string]any{"everything": everything(t), "memory": memory(t)})
	ctx := testContext(t, 120e9)
	full := startMcpmux(t, ctx, cfg)
	waitForTools(t, ctx, full.client, "everything__", "memory__")
	fullTools := rawTools(t, ctx, full.client)
	full.stop()

	script, err := filepath.Abs("testdata/searchclient.cjs")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(map[string]any{
		"command": mcpmuxBin(t), "args": []string{"serve", "--tool-mode", "search", "--config", cfg, "--data-dir", t.TempDir()},
		"query":    "create new entities in the knowledge graph",
		"describe": []string{"memory__create_entities", "everything/echo"},
		"call":     map[string]any{"name": "memory:read_graph", "arguments": map[string]any{}},
		"direct":   map[string]any{"name": "call_tool", "arguments": map[string]any{"name": "everything__echo", "arguments": map[string]any{"message": "hi"}}},
	})
	cmd := exec.CommandContext(ctx, node, script, string(spec))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "MCPMUX_LOG_LEVEL=warn", "GORACE=atexit_sleep_ms=0")
	cmd.Stderr = os.Stderr
	outBytes, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v", script, err)
	}
	var out struct {
		Instructions string
		Tools        []struct{ Name string }
		Search       struct {
			StructuredContent struct {
				Tools []struct{ Name, Server, Tool string }
			}
		}
		Describe struct {
			StructuredContent struct{ Tools []json.RawMessage }
		}
		Call   json.RawMessage
		Direct struct {
			Content []struct{ Text string }
		}
	}
	if err := json.Unmarshal(outBytes, &out); err != nil {
		t.Fatalf("decoding the script's output %q: %v", outBytes, err)
	}
	var names []string
	for _, tl := range out.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	if want := []string{"call_tool", "describe_tools", "search_tools"}; !slices.Equal(names, want) {
		t.Errorf("tools/list in search mode = %v, want %v", names, want)
	}
	for _, line := range []string{"- everything (everything__*)", "- memory (memory__*)"} {
		if !strings.Contains(out.Instructions, line) {
			t.Errorf("instructions = %q, want a line %q", out.Instructions, line)
		}
	}
	var found []string
	for _, h := range out.Search.StructuredContent.Tools {
		found = append(found, h.Name)
	}
	if !slices.Contains(found, "memory__create_entities") {
		t.Errorf("search_tools found %v, want memory__create_entities among them", found)
	}
	if got := out.Describe.StructuredContent.Tools; len(got) != 2 || !sameJSON(t, got[0], fullTools["memory__create_entities"]) || !sameJSON(t, got[1], fullTools["everything__echo"]) {
		t.Errorf("describe_tools = %s, want the definitions full mode lists", got)
	}
	if !strings.Contains(string(out.Call), `entities`) {
		t.Errorf("call_tool memory:read_graph = %s", out.Call)
	}
	if len(out.Direct.Content) == 0 || out.Direct.Content[0].Text != "Echo: hi" {
		t.Errorf("call_tool everything__echo = %+v", out.Direct)
	}
}

// sameJSON reports whether a and b hold the same JSON value.
func sameJSON(tb testing.TB, a, b json.RawMessage) bool {
	tb.Helper()
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
