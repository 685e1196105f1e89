package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// TestEverythingThroughMcpmux checks that server-everything's tools and
// results reach the client through mcpmux exactly as the server sends them
// to a client of its own, apart from the tool names.
func TestEverythingThroughMcpmux(t *testing.T) {
	testutil.CheckNoChildren(t)
	bin := everythingBin(t)
	ctx := testContext(t, testTimeout)
	// Both clients declare the same capabilities on the same revision:
	// mcpmux declares its client's to the upstream, and server-everything
	// offers some tools only to clients that can sample, elicit and list
	// roots.
	same := []client.ClientOption{client.WithClientCapabilities(relayedCaps()), client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION)}
	direct := startDirect(t, ctx, bin, same...)
	m := startMcpmux(t, ctx, writeConfig(t, map[string]any{"everything": map[string]any{"command": bin}}), same...)
	waitForTools(t, ctx, m.client, "everything__")

	want := rawTools(t, ctx, direct)
	got := rawTools(t, ctx, m.client)
	if len(want) == 0 {
		t.Fatal("server-everything listed no tools")
	}
	t.Logf("comparing %d tools", len(want))
	for name, raw := range want {
		exposed := "everything__" + name
		gotRaw, ok := got[exposed]
		if !ok {
			t.Errorf("tool %q is not listed through mcpmux as %q", name, exposed)
			continue
		}
		compareTool(t, exposed, raw, gotRaw)
	}
	for name := range got {
		if _, ok := want[strings.TrimPrefix(name, "everything__")]; !ok {
			t.Errorf("mcpmux lists %q, which server-everything does not list directly", name)
		}
	}

	t.Run("echo", func(t *testing.T) {
		result := compareCall(t, ctx, direct, m.client, "echo", `{"message":"héllo <&> 🚀"}`)
		if !bytes.Contains(result, []byte("Echo: héllo <&> 🚀")) {
			t.Errorf("echo result %s does not hold the message unescaped", result)
		}
	})
	t.Run("get-structured-content", func(t *testing.T) {
		location := firstEnum(t, want["get-structured-content"], "location")
		args, _ := json.Marshal(map[string]string{"location": location})
		result := compareCall(t, ctx, direct, m.client, "get-structured-content", string(args))
		if !bytes.Contains(result, []byte(`"structuredContent"`)) {
			t.Errorf("get-structured-content result %s has no structuredContent", result)
		}
	})
	t.Run("get-tiny-image", func(t *testing.T) {
		result := compareCall(t, ctx, direct, m.client, "get-tiny-image", `{}`)
		if !bytes.Contains(result, []byte(`"image/png"`)) {
			t.Errorf("get-tiny-image result %s has no PNG image", result)
		}
	})
}

// relayedCaps returns the client capabilities that mcpmux relays:
// sampling, elicitation and roots.
func relayedCaps() mcp.ClientCapabilities {
	var caps mcp.ClientCapabilities
	caps.Sampling = &mcp.SamplingCapability{}
	caps.Elicitation = &mcp.ElicitationCapability{}
	caps.Roots = &struct {
		ListChanged bool `json:"listChanged,omitempty"`
	}{ListChanged: true}
	return caps
}

// compareTool fails t unless the tool got (listed through mcpmux) has the
// same members as want (listed directly), each byte for byte after
// compaction, except its name.
func compareTool(t *testing.T, exposed string, want, got json.RawMessage) {
	t.Helper()
	var w, g map[string]json.RawMessage
	if err := json.Unmarshal(compact(t, want), &w); err != nil {
		t.Fatalf("decoding direct tool %s: %v", want, err)
	}
	if err := json.Unmarshal(compact(t, got), &g); err != nil {
		t.Fatalf("decoding tool %s through mcpmux: %v", got, err)
	}
	for key, wv := range w {
		if key == "name" {
			continue
		}
		gv, ok := g[key]
		switch {
		case !ok:
			t.Errorf("tool %s through mcpmux has no member %q (direct: %s)", exposed, key, wv)
		case !bytes.Equal(gv, wv):
			t.Errorf("tool %s member %q through mcpmux = %s, want %s", exposed, key, gv, wv)
		}
	}
	for key := range g {
		if _, ok := w[key]; !ok {
			t.Errorf("tool %s through mcpmux has member %q that the server did not send", exposed, key)
		}
	}
	if name := string(g["name"]); name != `"`+exposed+`"` {
		t.Errorf("tool %s through mcpmux is named %s", exposed, name)
	}
}

// compareCall calls tool with args directly and through mcpmux, fails t
// unless the raw results are identical after compaction, and returns the
// direct one.
func compareCall(t *testing.T, ctx context.Context, direct, mux *client.Client, tool, args string) []byte {
	t.Helper()
	params := func(name string) json.RawMessage {
		return json.RawMessage(`{"name":"` + name + `","arguments":` + args + `}`)
	}
	want := compact(t, rawResult(t, ctx, direct, "tools/call", params(tool)))
	got := compact(t, rawResult(t, ctx, mux, "tools/call", params("everything__"+tool)))
	if !bytes.Equal(got, want) {
		t.Errorf("tools/call %s through mcpmux:\n got %s\nwant %s", tool, got, want)
	}
	if bytes.Contains(want, []byte(`"isError":true`)) {
		t.Errorf("tools/call %s %s failed: %s", tool, args, want)
	}
	return want
}

// firstEnum returns the first value allowed for property prop in a tool's
// input schema.
func firstEnum(t *testing.T, tool json.RawMessage, prop string) string {
	t.Helper()
	var schema struct {
		InputSchema struct {
			Properties map[string]struct {
				Enum []string `json:"enum"`
			} `json:"properties"`
		} `json:"inputSchema"`
	}
	if err := json.Unmarshal(tool, &schema); err != nil {
		t.Fatalf("decoding tool %s: %v", tool, err)
	}
	enum := schema.InputSchema.Properties[prop].Enum
	if len(enum) == 0 {
		t.Fatalf("tool %s: property %q has no enum", tool, prop)
	}
	return enum[0]
}

// TestClientsOnBothProtocolEras connects clients of each protocol revision
// to mcpmux: the default one (2026-07-28, which starts with server/discover)
// and two that use the initialize handshake.
func TestClientsOnBothProtocolEras(t *testing.T) {
	testutil.CheckNoChildren(t)
	cfg := writeConfig(t, map[string]any{"everything": everything(t)})
	tests := []struct {
		name    string
		version string // "" means the client's default
		want    string
	}{
		{name: "default", version: "", want: mcp.LATEST_PROTOCOL_VERSION},
		{name: "2025-06-18", version: "2025-06-18", want: "2025-06-18"},
		{name: "2025-11-25", version: "2025-11-25", want: "2025-11-25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t, testTimeout)
			var opts []client.ClientOption
			if tt.version != "" {
				opts = append(opts, client.WithProtocolVersion(tt.version))
			}
			m := startMcpmux(t, ctx, cfg, opts...)
			if got := m.client.ProtocolVersion(); got != tt.want {
				t.Errorf("ProtocolVersion() = %q, want %q", got, tt.want)
			}
			tools := waitForTools(t, ctx, m.client, "everything__")
			if !slices.ContainsFunc(tools, func(tool mcp.Tool) bool { return tool.Name == "everything__echo" }) {
				t.Fatalf("tools/list has no everything__echo: %v", toolNames(tools))
			}
			req := mcp.CallToolRequest{}
			req.Params.Name = "everything__echo"
			req.Params.Arguments = map[string]any{"message": "era " + tt.name}
			res, err := m.client.CallTool(ctx, req)
			if err != nil {
				t.Fatalf("CallTool(everything__echo) = %v", err)
			}
			if res.IsError || len(res.Content) != 1 {
				t.Fatalf("CallTool(everything__echo) = %+v, want one text", res)
			}
			if text, _ := res.Content[0].(mcp.TextContent); text.Text != "Echo: era "+tt.name {
				t.Errorf("CallTool(everything__echo) text = %q, want %q", text.Text, "Echo: era "+tt.name)
			}
		})
	}
}

func toolNames(tools []mcp.Tool) []string {
	names := make([]string, len(tools))
	for i, t := range tools {
		names[i] = t.Name
	}
	return names
}
