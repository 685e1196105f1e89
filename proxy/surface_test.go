package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// must sends a raw request and fails the test on any error.
func (m *mux) must(method string, params any) json.RawMessage {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, rpcErr, err := m.request(ctx, method, params)
	if err != nil || rpcErr != nil {
		m.t.Fatalf("%s = error %v %+v", method, err, rpcErr)
	}
	return res
}

// fails sends a raw request that must fail, and returns its error.
func (m *mux) fails(method string, params any) *mcp.JSONRPCErrorDetails {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, rpcErr, err := m.request(ctx, method, params)
	if err != nil || rpcErr == nil {
		m.t.Fatalf("%s = %s, %v; want a JSON-RPC error", method, truncate(res), err)
	}
	return rpcErr
}

func TestPromptsMergedAndRouted(t *testing.T) {
	m := startMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a"), "b": testutil.TestServer(t, "-name", "b")})
	m.waitTools("a__echo", "b__echo")
	var list struct{ Prompts []struct{ Name string } }
	_ = json.Unmarshal(m.must("prompts/list", nil), &list)
	names := map[string]bool{}
	for _, p := range list.Prompts {
		names[p.Name] = true
	}
	for _, want := range []string{"a__greet", "a__plain", "b__greet", "b__plain"} {
		if !names[want] {
			t.Errorf("prompts/list lacks %q (have %v)", want, names)
		}
	}
	got := m.must("prompts/get", map[string]any{"name": "b__greet", "arguments": map[string]string{"name": "Ann"}})
	want := rawRequest(t, direct(t, "-name", "b"), "prompts/get", map[string]any{"name": "greet", "arguments": map[string]string{"name": "Ann"}})
	if !bytes.Equal(got, want) {
		t.Errorf("prompts/get through mcpmux = %s, want %s", got, want)
	}
	if e := m.fails("prompts/get", map[string]any{"name": "c__greet"}); !strings.Contains(e.Message, `"c__greet"`) {
		t.Errorf("unknown prompt error %q does not name it", e.Message)
	}
}

func TestResourcesReadByURIAndTemplate(t *testing.T) {
	m := startMux(t, map[string]any{
		"a": testutil.TestServer(t, "-name", "a", "-shared-uri", "test://shared/x"),
		"b": testutil.TestServer(t, "-name", "b", "-shared-uri", "test://shared/x"),
	})
	m.waitTools("a__echo", "b__echo")
	var list struct{ Resources []struct{ URI string } }
	_ = json.Unmarshal(m.must("resources/list", nil), &list)
	count := map[string]int{}
	for _, r := range list.Resources {
		count[r.URI]++
	}
	for _, want := range []string{"test://a/res/0", "test://b/res/2", "test://shared/x", "mcpmux://status"} {
		if count[want] != 1 {
			t.Errorf("resources/list has %q %d times, want once", want, count[want])
		}
	}
	for uri, want := range map[string]string{
		"test://b/res/1":    "resource test://b/res/1",
		"test://a/tmpl/42":  "resource test://a/tmpl/42",
		"test://shared/x":   "from a", // two upstreams list it: the first by name serves it
		"test://b/tmpl/abc": "resource test://b/tmpl/abc",
	} {
		var res struct{ Contents []struct{ Text string } }
		_ = json.Unmarshal(m.must("resources/read", map[string]string{"uri": uri}), &res)
		if len(res.Contents) != 1 || res.Contents[0].Text != want {
			t.Errorf("resources/read %s = %+v, want text %q", uri, res.Contents, want)
		}
	}
	if e := m.fails("resources/read", map[string]string{"uri": "test://nobody/x"}); e.Code != -32002 || !strings.Contains(e.Message, "test://nobody/x") {
		t.Errorf("unknown resource error = %+v, want -32002 naming the URI", e)
	}
	var tmpls struct {
		ResourceTemplates []struct{ URITemplate string }
	}
	_ = json.Unmarshal(m.must("resources/templates/list", nil), &tmpls)
	if len(tmpls.ResourceTemplates) != 2 {
		t.Errorf("templates = %+v, want a's and b's", tmpls.ResourceTemplates)
	}
}

func TestUpstreamPaginationReadToTheEnd(t *testing.T) {
	m := startMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-resources", "1000", "-tools", "250", "-page-size", "100")})
	m.waitTools("a__tool_0249")
	var list struct {
		Resources  []struct{ URI string }
		NextCursor string
	}
	_ = json.Unmarshal(m.must("resources/list", nil), &list)
	if len(list.Resources) != 1001 || list.NextCursor != "" { // 1,000 plus mcpmux://status
		t.Errorf("resources/list returned %d resources (cursor %q), want 1001 in one page", len(list.Resources), list.NextCursor)
	}
}

func TestCompletionRouted(t *testing.T) {
	m := startMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a"), "b": testutil.TestServer(t, "-name", "b")})
	m.waitTools("a__echo", "b__echo")
	var res struct{ Completion struct{ Values []string } }
	_ = json.Unmarshal(m.must("completion/complete", map[string]any{
		"ref":      map[string]string{"type": "ref/prompt", "name": "b__greet"},
		"argument": map[string]string{"name": "name", "value": "al"},
	}), &res)
	if got := strings.Join(res.Completion.Values, ","); got != "alice,albert" {
		t.Errorf("completion of b__greet name=al = %q, want alice,albert", got)
	}
	m.must("completion/complete", map[string]any{
		"ref":      map[string]string{"type": "ref/resource", "uri": "test://a/tmpl/{id}"},
		"argument": map[string]string{"name": "id", "value": "4"},
	})
}

func TestSubscribeAndUpdate(t *testing.T) {
	m := startMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a"), "b": testutil.TestServer(t, "-name", "b")})
	m.waitTools("a__echo", "b__echo")
	m.must("resources/subscribe", map[string]string{"uri": "test://b/res/0"})
	testutil.WaitFor(t, "resources/updated", func() bool { return len(m.notifications("notifications/resources/updated")) == 1 })
	n := m.notifications("notifications/resources/updated")[0]
	if n.Params.AdditionalFields["uri"] != "test://b/res/0" {
		t.Errorf("resources/updated for %v, want test://b/res/0", n.Params.AdditionalFields["uri"])
	}
	m.must("resources/unsubscribe", map[string]string{"uri": "test://b/res/0"})
}

func TestSetLevelAndLogMessages(t *testing.T) {
	log := filepath.Join(t.TempDir(), "seen.jsonl")
	m := startMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-log-file", log), "b": testutil.TestServer(t, "-name", "b")})
	m.waitTools("a__echo", "b__echo")
	m.must("logging/setLevel", map[string]string{"level": "debug"})
	if testutil.CountInFile(log, `"logging/setLevel"`) != 1 {
		t.Errorf("upstream a did not get logging/setLevel")
	}
	m.call("a__log", map[string]any{"level": "warning", "data": map[string]int{"n": 1}})
	testutil.WaitFor(t, "the log message", func() bool { return len(m.notifications("notifications/message")) == 1 })
	p := m.notifications("notifications/message")[0].Params.AdditionalFields
	if p["logger"] != "a/testserver" || p["level"] != "warning" {
		t.Errorf("log message = %v, want logger a/testserver, level warning", p)
	}
	if e := m.fails("logging/setLevel", map[string]string{"level": "loud"}); !strings.Contains(e.Message, "loud") {
		t.Errorf("invalid level error %q", e.Message)
	}
}

func TestProgressReachesItsOwnCall(t *testing.T) {
	m := startMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a"), "b": testutil.TestServer(t, "-name", "b")})
	m.waitTools("a__slow", "b__slow")
	var wg sync.WaitGroup
	for server, token := range map[string]any{"a": "tok-a", "b": 42} {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, rpcErr, err := m.request(ctx, "tools/call", map[string]any{
				"name": server + "__slow", "arguments": map[string]int{"ms": 500},
				"_meta": map[string]any{"progressToken": token},
			})
			if err != nil || rpcErr != nil {
				t.Errorf("%s__slow = %v %+v", server, err, rpcErr)
			}
		})
	}
	wg.Wait()
	byToken := map[string][]float64{}
	for _, n := range m.notifications("notifications/progress") {
		tok := fmt.Sprint(n.Params.AdditionalFields["progressToken"])
		byToken[tok] = append(byToken[tok], n.Params.AdditionalFields["progress"].(float64))
	}
	if len(byToken) != 2 {
		t.Fatalf("progress for tokens %v, want tok-a and 42", byToken)
	}
	for tok, ps := range byToken {
		if len(ps) != 10 { // 500ms / 50ms, all sent before the result, which must not overtake them
			t.Errorf("token %s got %d progress notifications, want 10", tok, len(ps))
		}
		for i := 1; i < len(ps); i++ {
			if ps[i] <= ps[i-1] {
				t.Errorf("token %s progress out of order: %v", tok, ps)
			}
		}
	}
}

func TestCancellingOneOfTwoCalls(t *testing.T) {
	log := filepath.Join(t.TempDir(), "seen.jsonl")
	m := startMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-log-file", log)})
	m.waitTools("a__slow")
	ctx, cancel := context.WithCancel(context.Background())
	doomed := make(chan error, 1)
	go func() {
		_, err := m.client.CallTool(ctx, callReq("a__slow", map[string]any{"ms": 20000, "tag": "doomed"}))
		doomed <- err
	}()
	survivor := make(chan error, 1)
	go func() {
		_, err := m.client.CallTool(context.Background(), callReq("a__slow", map[string]any{"ms": 600, "tag": "survivor"}))
		survivor <- err
	}()
	testutil.WaitFor(t, "both calls to reach the upstream", func() bool { return testutil.CountInFile(log, `"tools/call"`) == 2 })
	cancel()
	if err := <-doomed; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call = %v, want context.Canceled", err)
	}
	if err := <-survivor; err != nil {
		t.Errorf("the other call = %v, want success", err)
	}
	// That the upstream hears of no other cancellation, ever, is
	// upstream's TestStartedRequestIsCancelledOnce, in a synctest bubble.
	testutil.WaitFor(t, "the cancellation", func() bool { return testutil.CountInFile(log, "notifications/cancelled") >= 1 })
	if got := cancelledIDs(t, log); len(got) != 1 || got[0] != requestIDOf(t, log, "doomed") {
		t.Errorf("upstream saw cancellations of %v, want the doomed request %s", got, requestIDOf(t, log, "doomed"))
	}
}

func callReq(name string, args map[string]any) mcp.CallToolRequest {
	var r mcp.CallToolRequest
	r.Params.Name = name
	r.Params.Arguments = args
	return r
}

// loggedMessages reads the test server's log of received messages.
func loggedMessages(tb testing.TB, path string) []struct {
	Method string
	ID     json.RawMessage
	Params json.RawMessage
} {
	tb.Helper()
	var out []struct {
		Method string
		ID     json.RawMessage
		Params json.RawMessage
	}
	for _, line := range bytes.Split(readFile(tb, path), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m struct {
			Method string
			ID     json.RawMessage
			Params json.RawMessage
		}
		if err := json.Unmarshal(line, &m); err != nil {
			tb.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// requestIDOf returns the id of the tools/call whose arguments carry tag.
func requestIDOf(tb testing.TB, path, tag string) string {
	for _, m := range loggedMessages(tb, path) {
		if m.Method == "tools/call" && bytes.Contains(m.Params, []byte(`"`+tag+`"`)) {
			return string(m.ID)
		}
	}
	tb.Fatalf("no tools/call tagged %q in the log", tag)
	return ""
}

// cancelledIDs returns the request ids of every cancellation received.
func cancelledIDs(tb testing.TB, path string) []string {
	var out []string
	for _, m := range loggedMessages(tb, path) {
		if m.Method == "notifications/cancelled" {
			var p struct{ RequestID json.RawMessage }
			_ = json.Unmarshal(m.Params, &p)
			out = append(out, string(p.RequestID))
		}
	}
	return out
}

type sampler struct{}

func (sampler) CreateMessage(_ context.Context, req mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	r := &mcp.CreateMessageResult{Model: "test-model", StopReason: "endTurn"}
	r.Role = mcp.RoleAssistant
	r.Content = mcp.NewTextContent("Paris, said the client")
	return r, nil
}

type elicitor struct{}

func (elicitor) Elicit(context.Context, mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	r := &mcp.ElicitationResult{}
	r.Action = mcp.ElicitationResponseActionAccept
	r.Content = map[string]any{"name": "Ann"}
	return r, nil
}

type rooter struct{}

func (rooter) ListRoots(context.Context, mcp.ListRootsRequest) (*mcp.ListRootsResult, error) {
	return &mcp.ListRootsResult{Roots: []mcp.Root{{URI: "file:///work", Name: "work"}}}, nil
}

func TestSamplingElicitationRootsReachTheClient(t *testing.T) {
	m := startMuxWith(t, map[string]any{"a": testutil.TestServer(t, "-name", "a")}, mcp.LATEST_LEGACY_PROTOCOL_VERSION, []client.ClientOption{
		client.WithSamplingHandler(sampler{}), client.WithElicitationHandler(elicitor{}), client.WithRootsHandler(rooter{}),
	})
	m.waitTools("a__sample")
	if got := text(t, m.call("a__sample", nil)); got != "Paris, said the client" {
		t.Errorf("a__sample = %q", got)
	}
	if got := text(t, m.call("a__elicit", nil)); got != `{"action":"accept","content":{"name":"Ann"}}` {
		t.Errorf("a__elicit = %q", got)
	}
	if got := text(t, m.call("a__roots", nil)); !strings.Contains(got, "file:///work") {
		t.Errorf("a__roots = %q", got)
	}
}

func TestServerRequestsToIncapableClientFailClearly(t *testing.T) {
	m := startMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a")})
	m.waitTools("a__sample")
	if got := text(t, m.call("a__sample", nil)); !strings.Contains(got, "does not support sampling/createMessage") {
		t.Errorf("a__sample with a client that cannot sample = %q, want the reason", got)
	}
}

func TestRootsChangeReachesUpstreams(t *testing.T) {
	log := filepath.Join(t.TempDir(), "seen.jsonl")
	m := startMuxWith(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-log-file", log)}, mcp.LATEST_LEGACY_PROTOCOL_VERSION, []client.ClientOption{client.WithRootsHandler(rooter{})})
	m.waitTools("a__echo")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.client.RootListChanges(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "roots/list_changed at the upstream", func() bool { return testutil.CountInFile(log, "notifications/roots/list_changed") == 1 })
}

// An upstream's list change after start-up reaches the client as a
// tools/list_changed, and the next list has the new tool and every other
// tool unchanged. (That a burst of changes makes exactly one
// notification, and when, is TestListChangedCoalescesBursts.)
func TestListChangeAfterStartUp(t *testing.T) {
	m := startMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a"), "b": testutil.TestServer(t, "-name", "b")})
	before := m.waitTools("a__echo", "b__echo")
	seen := len(m.notifications("notifications/tools/list_changed"))
	m.call("a__list_changed", nil)
	after := m.waitTools("a__added_1")
	testutil.WaitFor(t, "tools/list_changed", func() bool { return len(m.notifications("notifications/tools/list_changed")) > seen })
	for name, raw := range before {
		if !bytes.Equal(after[name], raw) {
			t.Errorf("tool %s changed after an unrelated list change", name)
		}
	}
}

func TestStatusResource(t *testing.T) {
	m := startMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a"), "gone": map[string]any{"command": "/nonexistent"}})
	m.waitTools("a__echo")
	// Each upstream gets there in its own time: wait for the state
	// asserted, the other's failure included.
	var res struct {
		Contents []struct{ URI, MimeType, Text string }
	}
	testutil.WaitFor(t, "the missing command's error in mcpmux://status", func() bool {
		res.Contents = nil
		_ = json.Unmarshal(m.must("resources/read", map[string]string{"uri": "mcpmux://status"}), &res)
		return len(res.Contents) == 1 && strings.Contains(res.Contents[0].Text, "/nonexistent")
	})
	if res.Contents[0].MimeType != "application/json" || !strings.Contains(res.Contents[0].Text, `"ready"`) {
		t.Errorf("mcpmux://status = %+v, want JSON with a ready upstream and the missing command's error", res.Contents)
	}
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func TestModernClient(t *testing.T) {
	m := startMuxWith(t, map[string]any{"a": testutil.TestServer(t, "-name", "a"), "b": testutil.TestServer(t, "-name", "b")}, "", []client.ClientOption{client.WithSamplingHandler(sampler{})})
	if v := m.client.ProtocolVersion(); v != mcp.LATEST_PROTOCOL_VERSION {
		t.Fatalf("client negotiated %q, want %q", v, mcp.LATEST_PROTOCOL_VERSION)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	testutil.WaitFor(t, "tools through a 2026-07-28 client", func() bool {
		res, err := m.client.ListTools(ctx, mcp.ListToolsRequest{})
		return err == nil && len(res.Tools) >= 38
	})
	res, err := m.client.CallTool(ctx, callReq("b__echo", map[string]any{"message": "modern"}))
	if err != nil || len(res.Content) == 0 || res.Content[0].(mcp.TextContent).Text != "modern" {
		t.Fatalf("b__echo from a 2026-07-28 client = %+v, %v", res, err)
	}
	if _, err := m.client.GetPrompt(ctx, mcp.GetPromptRequest{Params: mcp.GetPromptParams{Name: "a__plain"}}); err != nil {
		t.Errorf("a__plain from a 2026-07-28 client: %v", err)
	}
	// Server-to-client requests do not exist in 2026-07-28: the upstream's
	// sampling request reaches the client as an input_required answer to
	// its call, and its retry with the answer gets the tool's result.
	sample, err := m.client.CallTool(ctx, callReq("a__sample", nil))
	if err != nil || sample.IsError || len(sample.Content) == 0 || sample.Content[0].(mcp.TextContent).Text != "Paris, said the client" {
		t.Errorf("a__sample from a 2026-07-28 client = %+v, %v; want the client's sample", sample, err)
	}
	// List changes reach a modern client only through subscriptions/listen.
	stop, err := m.client.ListenAsync(ctx, mcp.SubscriptionFilter{ToolsListChanged: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	testutil.WaitFor(t, "the listen acknowledgement", func() bool { return len(m.notifications("notifications/subscriptions/acknowledged")) == 1 })
	m.call("a__list_changed", nil)
	testutil.WaitFor(t, "tools/list_changed on the listen stream", func() bool { return len(m.notifications("notifications/tools/list_changed")) == 1 })
	if meta := m.notifications("notifications/tools/list_changed")[0].Params.Meta; meta[mcp.MetaKeySubscriptionID] == nil {
		t.Errorf("list_changed not tagged with the subscription id: %v", meta)
	}
}

// slowElicitor answers after a delay, as a person would.
type slowElicitor struct{ delay time.Duration }

func (e slowElicitor) Elicit(ctx context.Context, r mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	select {
	case <-time.After(e.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return elicitor{}.Elicit(ctx, r)
}

func TestElicitationOutlastsTheCallTimeout(t *testing.T) {
	a := testutil.TestServer(t, "-name", "a")
	// The timeout leaves room for the elicitation to reach the client even
	// on a loaded machine; the person then takes three times as long.
	a["timeout"] = "700ms"
	m := startMuxWith(t, map[string]any{"a": a}, mcp.LATEST_LEGACY_PROTOCOL_VERSION,
		[]client.ClientOption{client.WithElicitationHandler(slowElicitor{delay: 2100 * time.Millisecond})})
	m.waitTools("a__elicit")
	if got := text(t, m.call("a__elicit", nil)); got != `{"action":"accept","content":{"name":"Ann"}}` {
		t.Errorf("a__elicit answered after 2.1s with a 700ms timeout = %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, rpcErr, _ := m.request(ctx, "tools/call", map[string]any{"name": "a__slow", "arguments": map[string]int{"ms": 3000}}); rpcErr == nil {
		t.Error("a__slow outlasted the 700ms timeout without asking the client anything")
	}
}

func TestClientGoneCancelsUpstreamRequests(t *testing.T) {
	log := filepath.Join(t.TempDir(), "seen.jsonl")
	m := startMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-log-file", log)})
	m.waitTools("a__slow")
	go func() {
		_, _ = m.client.CallTool(context.Background(), callReq("a__slow", map[string]any{"ms": 20000, "tag": "orphaned"}))
	}()
	testutil.WaitFor(t, "the call to reach the upstream", func() bool { return testutil.CountInFile(log, `"orphaned"`) == 1 })
	_ = m.client.Close() // the client drops: stdin EOF for mcpmux
	testutil.WaitFor(t, "the upstream to see the call cancelled", func() bool { return len(cancelledIDs(t, log)) == 1 })
	if got, want := cancelledIDs(t, log)[0], requestIDOf(t, log, "orphaned"); got != want {
		t.Errorf("upstream saw %s cancelled, want %s", got, want)
	}
}

func TestUpstreamsAreToldTheClientsCapabilities(t *testing.T) {
	for _, tc := range []struct {
		name     string
		protocol string
		opts     []client.ClientOption
		want     string
	}{
		{"sampling and roots", mcp.LATEST_LEGACY_PROTOCOL_VERSION,
			[]client.ClientOption{client.WithSamplingHandler(sampler{}), client.WithRootsHandler(rooter{})},
			`{"roots":{"listChanged":true},"sampling":{}}`},
		{"none", mcp.LATEST_LEGACY_PROTOCOL_VERSION, nil, `{}`},
		// A 2026-07-28 client declares its capabilities in each request's
		// _meta; upstreams offer it what they would offer it directly.
		{"2026-07-28 client", "", []client.ClientOption{client.WithSamplingHandler(sampler{})}, `{"sampling":{}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "seen.jsonl")
			m := startMuxWith(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-log-file", log)}, tc.protocol, tc.opts)
			m.waitTools("a__echo")
			for _, msg := range loggedMessages(t, log) {
				if msg.Method != "initialize" {
					continue
				}
				var p struct{ Capabilities json.RawMessage }
				_ = json.Unmarshal(msg.Params, &p)
				if string(p.Capabilities) != tc.want {
					t.Errorf("upstream was told capabilities %s, want %s", p.Capabilities, tc.want)
				}
				return
			}
			t.Fatal("the upstream saw no initialize")
		})
	}
}

func TestListsPagedWhenAsked(t *testing.T) {
	m := newMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a", "-resources", "250", "-tools", "120")},
		muxOptions{protocol: mcp.LATEST_LEGACY_PROTOCOL_VERSION, pageSize: 100})
	m.waitToolsPaged("a__tool_0119")
	for _, tc := range []struct{ method, field string }{{"tools/list", "tools"}, {"resources/list", "resources"}} {
		seen, pages, cursor := map[string]bool{}, 0, ""
		for {
			var params any
			if cursor != "" {
				params = map[string]string{"cursor": cursor}
			}
			var page map[string]json.RawMessage
			_ = json.Unmarshal(m.must(tc.method, params), &page)
			var items []struct{ Name, URI string }
			_ = json.Unmarshal(page[tc.field], &items)
			if len(items) > 100 {
				t.Fatalf("%s page of %d entries, want at most 100", tc.method, len(items))
			}
			for _, it := range items {
				key := it.Name + it.URI
				if seen[key] {
					t.Fatalf("%s lists %q on two pages", tc.method, key)
				}
				seen[key] = true
			}
			pages++
			cursor = ""
			_ = json.Unmarshal(page["nextCursor"], &cursor)
			if cursor == "" {
				break
			}
		}
		want := map[string]int{"tools/list": 120 + 19, "resources/list": 250 + 1}[tc.method]
		if len(seen) != want || pages != (want+99)/100 {
			t.Errorf("%s: %d entries on %d pages, want %d on %d", tc.method, len(seen), pages, want, (want+99)/100)
		}
	}
	if e := m.fails("tools/list", map[string]string{"cursor": "!!not-ours"}); e.Code != -32602 {
		t.Errorf("invalid cursor error = %+v, want -32602", e)
	}
}

// waitToolsPaged waits, as long as waitTools does, until name is listed
// on any page.
func (m *mux) waitToolsPaged(name string) {
	m.t.Helper()
	listed := func() bool {
		cursor := ""
		for {
			var params any
			if cursor != "" {
				params = map[string]string{"cursor": cursor}
			}
			res := m.must("tools/list", params)
			if bytes.Contains(res, []byte(`"`+name+`"`)) {
				return true
			}
			var page struct{ NextCursor string }
			_ = json.Unmarshal(res, &page)
			if cursor = page.NextCursor; cursor == "" {
				return false
			}
		}
	}
	testutil.WaitFor(m.t, name+" listed", listed)
}

func TestToolFilter(t *testing.T) {
	a := testutil.TestServer(t, "-name", "a", "-tools", "3")
	a["tools"] = map[string]any{"allow": []string{"echo", "tool_*", "slow"}, "deny": []string{"tool_0001", "slow"}}
	m := startMux(t, map[string]any{"a": a})
	tools := m.waitTools("a__echo")
	var names []string
	for name := range tools {
		names = append(names, name)
	}
	slices.Sort(names)
	if want := []string{"a__echo", "a__tool_0000", "a__tool_0002"}; !slices.Equal(names, want) {
		t.Errorf("tools with allow [echo tool_* slow] and deny [tool_0001 slow] = %v, want %v", names, want)
	}
	if e := m.fails("tools/call", map[string]any{"name": "a__slow"}); !strings.Contains(e.Message, `"a__slow"`) {
		t.Errorf("calling a filtered tool = %+v, want unknown tool", e)
	}
}
