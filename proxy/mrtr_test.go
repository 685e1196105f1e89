package proxy_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// A 2026-07-28 client has no requests from server to client; an
// upstream's sampling, elicitation and roots requests reach it as
// input_required answers to its calls (multi round-trip requests), which
// mcp-go's client answers and retries by itself.
func TestStatelessClientAnswersUpstreamRequests(t *testing.T) {
	m := startMuxWith(t, map[string]any{"a": testutil.TestServer(t, "-name", "a")}, "", []client.ClientOption{
		client.WithSamplingHandler(sampler{}), client.WithElicitationHandler(elicitor{}), client.WithRootsHandler(rooter{}),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := map[string]string{
		"a__sample": "Paris, said the client",
		"a__elicit": `{"action":"accept","content":{"name":"Ann"}}`,
		"a__roots":  "file:///work",
	}
	// One at a time, then all at once: a request goes to the client with
	// any call to its upstream, and its answer finds it by its key.
	for round := range 2 {
		var wg sync.WaitGroup
		for tool, text := range want {
			call := func() {
				res, err := m.client.CallTool(ctx, callReq(tool, nil))
				if err != nil || res.IsError || len(res.Content) == 0 || !strings.Contains(res.Content[0].(mcp.TextContent).Text, text) {
					t.Errorf("round %d: %s from a 2026-07-28 client = %+v, %v; want %q", round, tool, res, err, text)
				}
			}
			if round == 0 {
				call()
			} else {
				wg.Go(call)
			}
		}
		wg.Wait()
	}
}

// A client that does not come back with the input its call asked for
// loses the call after the upstream's request timeout: the upstream is told
// it is cancelled. A requestState mcpmux does not know is refused.
func TestStatelessClientThatDoesNotComeBack(t *testing.T) {
	log := filepath.Join(t.TempDir(), "seen.jsonl")
	a := testutil.TestServer(t, "-name", "a", "-log-file", log)
	a["timeout"] = "300ms"
	m := startMuxWith(t, map[string]any{"a": a}, "", []client.ClientOption{client.WithSamplingHandler(sampler{})})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	meta := map[string]any{
		"io.modelcontextprotocol/protocolVersion":    "2026-07-28",
		"io.modelcontextprotocol/clientCapabilities": map[string]any{"sampling": map[string]any{}},
	}
	res, rpcErr, err := m.request(ctx, "tools/call", map[string]any{"name": "a__sample", "arguments": map[string]any{"tag": "left"}, "_meta": meta})
	if err != nil || rpcErr != nil {
		t.Fatalf("a__sample = %v %+v", err, rpcErr)
	}
	var r struct {
		ResultType    string                     `json:"resultType"`
		InputRequests map[string]json.RawMessage `json:"inputRequests"`
		RequestState  string                     `json:"requestState"`
	}
	if err := json.Unmarshal(res, &r); err != nil || r.ResultType != "input_required" || len(r.InputRequests) != 1 || r.RequestState == "" {
		t.Fatalf("a__sample from a client that then leaves = %s, want one input request", res)
	}
	for _, req := range r.InputRequests {
		if !strings.Contains(string(req), `"method":"sampling/createMessage"`) {
			t.Errorf("input request = %s, want sampling/createMessage", req)
		}
	}
	testutil.WaitFor(t, "the upstream to see the abandoned call cancelled", func() bool { return len(cancelledIDs(t, log)) == 1 })
	if got, want := cancelledIDs(t, log)[0], requestIDOf(t, log, "left"); got != want {
		t.Errorf("upstream saw %s cancelled, want %s", got, want)
	}
	_, rpcErr, err = m.request(ctx, "tools/call", map[string]any{"name": "a__sample", "requestState": r.RequestState,
		"inputResponses": map[string]any{}, "_meta": meta})
	if err != nil || rpcErr == nil || rpcErr.Code != -32602 || !strings.Contains(rpcErr.Message, "unknown or has expired") {
		t.Errorf("retry after the call was dropped = %v %+v, want -32602 saying the requestState expired", err, rpcErr)
	}
}
