package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// TestSurfaceThroughMcpmux covers, through mcpmux, every part of the MCP
// surface that server-everything offers besides tools: prompts, static and
// templated resources, completions, subscriptions, logging, progress, the
// requests it makes of the client (sampling, elicitation, roots) and the
// tool list change it announces after start-up. The client is mcp-go's, on
// the handshake-based revision (server-to-client requests need it), and it
// declares sampling, elicitation and roots by answering them with fixed
// answers. Where it is cheap, the same request is made to server-everything
// directly by an identical client, and the results must be identical.
func TestSurfaceThroughMcpmux(t *testing.T) {
	testutil.CheckNoChildren(t)
	bin := everythingBin(t)
	ctx := testContext(t, testTimeout)
	direct := newSurfaceClient()
	direct.c = startDirect(t, ctx, bin, direct.options()...)
	mux := newSurfaceClient()
	mux.c = startMcpmux(t, ctx, writeConfig(t, map[string]any{"everything": map[string]any{"command": bin}}), mux.options()...).client
	testSurface(t, ctx, direct, mux)
}

// testSurface runs the tests of TestSurfaceThroughMcpmux with clients of
// server-everything, direct and through mcpmux (as its upstream
// "everything"), over whichever transport.
func testSurface(t *testing.T, ctx context.Context, direct, mux *surfaceClient) {
	// The client's first list, which a host that lists once keeps for the
	// whole session.
	first := rawTools(t, ctx, mux.c)

	t.Run("first tools list has the tools added after start-up", func(t *testing.T) {
		// server-everything registers the tools that need sampling,
		// elicitation or roots once the client is initialized, and says so
		// with a list change. The direct client lists until it has them:
		// mcp-go's streamable HTTP client opens its listening stream after
		// it says it is initialized, and misses the list change now and
		// then.
		var want map[string]json.RawMessage
		pollUntil(t, ctx, fmt.Sprintf("server-everything to list %s directly", strings.Join(conditionalTools, ", ")), func() bool {
			want = rawTools(t, ctx, direct.c)
			for _, name := range conditionalTools {
				if _, ok := want[name]; !ok {
					return false
				}
			}
			return true
		})
		// server-everything offers them only if mcpmux declared the
		// client's capabilities to it (see
		// TestSurfaceClientCapabilitiesReachUpstreamsAwaitingThem), and
		// the first list holds them only if mcpmux read the catalogue
		// again after that list change.
		got := first
		for name := range want {
			if _, ok := got["everything__"+name]; !ok {
				t.Errorf("first tools/list through mcpmux lacks %q, which server-everything lists directly", "everything__"+name)
			}
		}
		for name := range got {
			if _, ok := want[strings.TrimPrefix(name, "everything__")]; !ok {
				t.Errorf("mcpmux lists %q, which server-everything does not list directly", name)
			}
		}
		for _, name := range conditionalTools {
			compareTool(t, "everything__"+name, want[name], got["everything__"+name])
		}
	})

	t.Run("prompts/get with arguments", func(t *testing.T) {
		want := rawEntries(t, ctx, direct.c, "prompts/list", "prompts", "name")
		got := rawEntries(t, ctx, mux.c, "prompts/list", "prompts", "name")
		for _, name := range []string{"simple-prompt", "args-prompt", "completable-prompt", "resource-prompt"} {
			if _, ok := want[name]; !ok {
				t.Errorf("server-everything does not list prompt %q (has %v)", name, sortedKeys(want))
			}
		}
		for name, raw := range want {
			exposed := "everything__" + name
			if gotRaw, ok := got[exposed]; !ok {
				t.Errorf("prompt %q is not listed through mcpmux as %q (has %v)", name, exposed, sortedKeys(got))
			} else {
				compareTool(t, exposed, raw, gotRaw)
			}
		}
		if len(got) != len(want) {
			t.Errorf("mcpmux lists prompts %v, server-everything %v", sortedKeys(got), sortedKeys(want))
		}

		for _, tt := range []struct {
			name, args, text string
		}{
			{"simple-prompt", `{}`, "This is a simple prompt without arguments."},
			{"args-prompt", `{"city":"Paris","state":"Texas"}`, "What's weather in Paris, Texas?"},
			{"args-prompt", `{"city":"Lyon"}`, "What's weather in Lyon?"},
			{"completable-prompt", `{"department":"Engineering","name":"Bob"}`, "Please promote Bob to the head of the Engineering team."},
		} {
			res := compareResult(t, ctx, direct.c, mux.c, "prompts/get", promptParams(tt.name, tt.args), promptParams("everything__"+tt.name, tt.args))
			if texts := promptTexts(t, res); !slices.Equal(texts, []string{tt.text}) {
				t.Errorf("prompts/get %s %s texts = %q, want %q", tt.name, tt.args, texts, tt.text)
			}
		}
		// Its embedded resource holds the time of day.
		res := compareTimed(t, ctx, direct.c, mux.c, "prompts/get",
			promptParams("resource-prompt", `{"resourceType":"Text","resourceId":"3"}`),
			promptParams("everything__resource-prompt", `{"resourceType":"Text","resourceId":"3"}`))
		if !bytes.Contains(res, []byte(`"uri":"demo://resource/dynamic/text/3"`)) || !bytes.Contains(res, []byte(`Resource 3: This is a plaintext resource created at `)) {
			t.Errorf("prompts/get resource-prompt = %s, want the embedded text resource 3", res)
		}
		// A missing required argument is the server's error, unchanged.
		compareError(t, ctx, direct.c, mux.c, "prompts/get", promptParams("args-prompt", `{"state":"Texas"}`), promptParams("everything__args-prompt", `{"state":"Texas"}`))
	})

	t.Run("resources/read of static resources", func(t *testing.T) {
		want := rawEntries(t, ctx, direct.c, "resources/list", "resources", "uri")
		got := rawEntries(t, ctx, mux.c, "resources/list", "resources", "uri")
		compareByKey(t, "resource", want, got, "mcpmux://status")
		var static []string
		for uri := range want {
			if strings.HasPrefix(uri, staticPrefix) {
				static = append(static, uri)
			}
		}
		sort.Strings(static)
		if !slices.Contains(static, featuresURI) {
			t.Fatalf("server-everything lists no %s (static resources: %v)", featuresURI, static)
		}
		for _, uri := range static {
			params := uriParams(uri)
			res := compareResult(t, ctx, direct.c, mux.c, "resources/read", params, params)
			var read struct {
				Contents []struct{ URI, MimeType, Text string }
			}
			if err := json.Unmarshal(res, &read); err != nil || len(read.Contents) != 1 {
				t.Errorf("resources/read %s = %s (%v), want one content", uri, res, err)
				continue
			}
			if c := read.Contents[0]; c.URI != uri || c.Text == "" || (strings.HasSuffix(uri, ".md") && c.MimeType != "text/markdown") {
				t.Errorf("resources/read %s = uri %q, mimeType %q, %d bytes of text", uri, c.URI, c.MimeType, len(c.Text))
			}
		}
		t.Logf("read %d static resources", len(static))
	})

	t.Run("resources/read of a templated URI", func(t *testing.T) {
		want := rawEntries(t, ctx, direct.c, "resources/templates/list", "resourceTemplates", "uriTemplate")
		got := rawEntries(t, ctx, mux.c, "resources/templates/list", "resourceTemplates", "uriTemplate")
		for _, tmpl := range []string{textTemplate, blobTemplate} {
			if _, ok := want[tmpl]; !ok {
				t.Errorf("server-everything lists no template %q (has %v)", tmpl, sortedKeys(want))
			}
		}
		compareByKey(t, "resource template", want, got)

		// The contents hold the time of day.
		const textURI = "demo://resource/dynamic/text/7"
		res := compareTimed(t, ctx, direct.c, mux.c, "resources/read", uriParams(textURI), uriParams(textURI))
		var text struct {
			Contents []struct{ URI, MimeType, Text string }
		}
		if err := json.Unmarshal(res, &text); err != nil || len(text.Contents) != 1 ||
			text.Contents[0].URI != textURI || text.Contents[0].MimeType != "text/plain" ||
			!strings.HasPrefix(text.Contents[0].Text, "Resource 7: This is a plaintext resource created at ") {
			t.Errorf("resources/read %s = %s (%v), want resource 7's text", textURI, res, err)
		}
		const blobURI = "demo://resource/dynamic/blob/8"
		res = compareTimed(t, ctx, direct.c, mux.c, "resources/read", uriParams(blobURI), uriParams(blobURI))
		var blob struct {
			Contents []struct{ URI, Blob string }
		}
		if err := json.Unmarshal(res, &blob); err != nil || len(blob.Contents) != 1 || blob.Contents[0].URI != blobURI {
			t.Fatalf("resources/read %s = %s (%v), want one blob", blobURI, res, err)
		}
		if decoded, err := base64.StdEncoding.DecodeString(blob.Contents[0].Blob); err != nil || !strings.HasPrefix(string(decoded), "Resource 8: This is a base64 blob created at ") {
			t.Errorf("resources/read %s blob decodes to %q (%v), want resource 8's", blobURI, decoded, err)
		}
		// An id the template matches but the server refuses is its error.
		compareError(t, ctx, direct.c, mux.c, "resources/read", uriParams("demo://resource/dynamic/text/0"), uriParams("demo://resource/dynamic/text/0"))
	})

	t.Run("completion/complete", func(t *testing.T) {
		for _, tt := range []struct {
			ref, muxRef string
			argument    string // name and value
			context     string // "" for none
			values      []string
		}{
			{promptRef("completable-prompt"), promptRef("everything__completable-prompt"), `{"name":"department","value":""}`, "", []string{"Engineering", "Sales", "Marketing", "Support"}},
			{promptRef("completable-prompt"), promptRef("everything__completable-prompt"), `{"name":"department","value":"S"}`, "", []string{"Sales", "Support"}},
			{promptRef("completable-prompt"), promptRef("everything__completable-prompt"), `{"name":"name","value":""}`, `{"arguments":{"department":"Engineering"}}`, []string{"Alice", "Bob", "Charlie"}},
			{promptRef("resource-prompt"), promptRef("everything__resource-prompt"), `{"name":"resourceType","value":"B"}`, "", []string{"Blob"}},
			{`{"type":"ref/resource","uri":"` + textTemplate + `"}`, "", `{"name":"resourceId","value":"42"}`, "", []string{"42"}},
			{`{"type":"ref/resource","uri":"` + blobTemplate + `"}`, "", `{"name":"resourceId","value":"x"}`, "", []string{}},
		} {
			if tt.muxRef == "" {
				tt.muxRef = tt.ref // resource references keep their URI
			}
			params := func(ref string) string {
				p := `{"ref":` + ref + `,"argument":` + tt.argument
				if tt.context != "" {
					p += `,"context":` + tt.context
				}
				return p + "}"
			}
			res := compareResult(t, ctx, direct.c, mux.c, "completion/complete", params(tt.ref), params(tt.muxRef))
			var got struct {
				Completion struct{ Values []string }
			}
			if err := json.Unmarshal(res, &got); err != nil {
				t.Errorf("decoding completion %s: %v", res, err)
			}
			if !slices.Equal(got.Completion.Values, tt.values) {
				t.Errorf("completion/complete %s = %q, want %q", params(tt.muxRef), got.Completion.Values, tt.values)
			}
		}
	})

	t.Run("subscribe and update", func(t *testing.T) {
		const dynamicURI = "demo://resource/dynamic/text/5"
		from := mux.notes.mark()
		for _, uri := range []string{featuresURI, dynamicURI} {
			if res := compact(t, rawResult(t, ctx, mux.c, "resources/subscribe", json.RawMessage(uriParams(uri)))); string(res) != `{}` {
				t.Errorf("resources/subscribe %s = %s, want {}", uri, res)
			}
			// The server acknowledges with a log message, relayed as its own.
			mux.notes.waitFor(t, ctx, from, "the log message acknowledging the subscription to "+uri,
				isLog("everything", "info", "Received Subscribe Resource request for URI: "+uri+" "))
		}
		if text := callTool(t, ctx, mux.c, "everything__toggle-subscriber-updates", `{}`); !strings.HasPrefix(text, "Started simulated resource updated notifications") {
			t.Fatalf("toggle-subscriber-updates = %q, want it started", text)
		}
		for _, uri := range []string{featuresURI, dynamicURI} {
			i := mux.notes.waitFor(t, ctx, from, "notifications/resources/updated for "+uri, func(n note) bool {
				return n.Method == "notifications/resources/updated" && n.Params["uri"] == uri
			})
			if n := mux.notes.since(i)[0]; len(n.Params) != 1 {
				t.Errorf("notifications/resources/updated params = %v, want only the uri", n.Params)
			}
		}
		if text := callTool(t, ctx, mux.c, "everything__toggle-subscriber-updates", `{}`); !strings.HasPrefix(text, "Stopped simulated resource updates") {
			t.Errorf("toggle-subscriber-updates = %q, want it stopped", text)
		}
		for _, uri := range []string{featuresURI, dynamicURI} {
			if res := compact(t, rawResult(t, ctx, mux.c, "resources/unsubscribe", json.RawMessage(uriParams(uri)))); string(res) != `{}` {
				t.Errorf("resources/unsubscribe %s = %s, want {}", uri, res)
			}
		}
		for _, n := range mux.notes.since(from) {
			if n.Method == "notifications/resources/updated" && n.Params["uri"] != featuresURI && n.Params["uri"] != dynamicURI {
				t.Errorf("notifications/resources/updated for %v, which the client did not subscribe to", n.Params["uri"])
			}
		}
	})

	t.Run("logging/setLevel and log messages", func(t *testing.T) {
		setLevel(t, ctx, mux.c, "debug")
		from := mux.notes.mark()
		if text := callTool(t, ctx, mux.c, "everything__toggle-simulated-logging", `{}`); !strings.HasPrefix(text, "Started simulated, random-leveled logging") {
			t.Fatalf("toggle-simulated-logging = %q, want it started", text)
		}
		// It logs once at once, at a random level, with no logger: mcpmux
		// names the server as the logger.
		simulated := regexp.MustCompile(`^(Debug|Info|Notice|Warning|Error|Critical|Alert|Emergency)[- ]level[- ]message`)
		i := mux.notes.waitFor(t, ctx, from, "a simulated log message", func(n note) bool {
			data, _ := n.Params["data"].(string)
			return n.Method == "notifications/message" && simulated.MatchString(data)
		})
		n := mux.notes.since(i)[0]
		data := n.Params["data"].(string)
		if word := simulated.FindStringSubmatch(data)[1]; n.Params["level"] != strings.ToLower(word) || n.Params["logger"] != "everything" {
			t.Errorf("simulated log message = %v, want level %q and logger \"everything\"", n.Params, strings.ToLower(word))
		}
		if text := callTool(t, ctx, mux.c, "everything__toggle-simulated-logging", `{}`); !strings.HasPrefix(text, "Stopped simulated logging") {
			t.Errorf("toggle-simulated-logging = %q, want it stopped", text)
		}

		// At level error the server drops the info message that
		// acknowledges a subscription; back at debug it sends the one that
		// acknowledges the unsubscription. An upstream's notifications
		// reach the client in order, so the first, had it been sent, would
		// arrive before the second.
		const uri = "demo://resource/static/document/architecture.md"
		from = mux.notes.mark()
		setLevel(t, ctx, mux.c, "error")
		rawResult(t, ctx, mux.c, "resources/subscribe", json.RawMessage(uriParams(uri)))
		setLevel(t, ctx, mux.c, "debug")
		rawResult(t, ctx, mux.c, "resources/unsubscribe", json.RawMessage(uriParams(uri)))
		i = mux.notes.waitFor(t, ctx, from, "the log message acknowledging the unsubscription, at level debug",
			isLog("everything", "info", "Received Unsubscribe Resource request: "+uri+" "))
		for _, n := range mux.notes.since(from)[:i-from] {
			if isLog("everything", "info", "Received Subscribe Resource request for URI: "+uri)(n) {
				t.Errorf("info message %v sent while the level was error", n.Params)
			}
		}
		if e := rawError(t, ctx, mux.c, "logging/setLevel", `{"level":"loud"}`); e.Code != mcp.INVALID_PARAMS {
			t.Errorf("logging/setLevel loud = error %d %q, want %d", e.Code, e.Message, mcp.INVALID_PARAMS)
		}
	})

	t.Run("progress of the long-running operation", func(t *testing.T) {
		// Two operations at once, with a string and a number for token:
		// each token gets its own progress, in order, all but perhaps the
		// last (sent just before the result, it may lose the race).
		calls := []struct {
			token string // as JSON
			key   any    // as decoded from a notification
			steps int
		}{
			{`"surface-progress"`, "surface-progress", 5},
			{`42`, float64(42), 4},
		}
		from := mux.notes.mark()
		var wg sync.WaitGroup
		errs := make([]error, len(calls))
		texts := make([]string, len(calls))
		for i, c := range calls {
			wg.Go(func() {
				params := fmt.Sprintf(`{"name":"everything__trigger-long-running-operation","arguments":{"duration":1,"steps":%d},"_meta":{"progressToken":%s}}`, c.steps, c.token)
				resp, err := rawRequest(ctx, mux.c, "tools/call", json.RawMessage(params))
				switch {
				case err != nil:
					errs[i] = err
				case resp.Error != nil:
					errs[i] = fmt.Errorf("JSON-RPC error %d: %s", resp.Error.Code, resp.Error.Message)
				default:
					texts[i] = string(resp.Result)
				}
			})
		}
		wg.Wait()
		for i, c := range calls {
			if errs[i] != nil {
				t.Fatalf("trigger-long-running-operation with token %s: %v", c.token, errs[i])
			}
			if want := fmt.Sprintf("Long running operation completed. Duration: 1 seconds, Steps: %d.", c.steps); !strings.Contains(texts[i], want) {
				t.Errorf("trigger-long-running-operation with token %s = %s, want %q", c.token, texts[i], want)
			}
		}
		progress := func(key any) []note {
			var out []note
			for _, n := range mux.notes.since(from) {
				if n.Method == "notifications/progress" && n.Params["progressToken"] == key {
					out = append(out, n)
				}
			}
			return out
		}
		pollUntil(t, ctx, "all but the last progress notification of each operation", func() bool {
			for _, c := range calls {
				if len(progress(c.key)) < c.steps-1 {
					return false
				}
			}
			return true
		})
		for _, c := range calls {
			got := progress(c.key)
			for i, n := range got {
				if n.Params["progress"] != float64(i+1) || n.Params["total"] != float64(c.steps) {
					t.Errorf("token %s: progress notification %d = %v, want progress %d of %d", c.token, i+1, n.Params, i+1, c.steps)
				}
			}
			if len(got) > c.steps {
				t.Errorf("token %s: %d progress notifications, want at most %d", c.token, len(got), c.steps)
			}
			t.Logf("token %s: %d of %d progress notifications", c.token, len(got), c.steps)
		}
		for _, n := range mux.notes.since(from) {
			if n.Method == "notifications/progress" && n.Params["progressToken"] != calls[0].key && n.Params["progressToken"] != calls[1].key {
				t.Errorf("progress for a token the client never sent: %v", n.Params)
			}
		}
	})

	t.Run("sampling", func(t *testing.T) {
		before := len(mux.sampler.requests())
		text := callTool(t, ctx, mux.c, "everything__trigger-sampling-request", `{"prompt":"surface prompt","maxTokens":64}`)
		reqs := mux.sampler.requests()[before:]
		if len(reqs) != 1 {
			t.Fatalf("the client got %d sampling requests, want 1", len(reqs))
		}
		req := reqs[0]
		if len(req.Messages) != 1 || req.Messages[0].Role != mcp.RoleUser {
			t.Fatalf("sampling request messages = %+v, want one from the user", req.Messages)
		}
		if c, ok := req.Messages[0].Content.(mcp.TextContent); !ok || c.Text != "Resource trigger-sampling-request context: surface prompt" {
			t.Errorf("sampling request content = %#v, want the prompt", req.Messages[0].Content)
		}
		if req.SystemPrompt != "You are a helpful test server." || req.MaxTokens != 64 || req.Temperature != 0.7 {
			t.Errorf("sampling request = system prompt %q, maxTokens %d, temperature %v; want the server's", req.SystemPrompt, req.MaxTokens, req.Temperature)
		}
		const prefix = "LLM sampling result: \n"
		if !strings.HasPrefix(text, prefix) {
			t.Fatalf("trigger-sampling-request = %q, want %q and the client's answer", text, prefix)
		}
		var answer struct {
			Model, Role, StopReason string
			Content                 struct{ Type, Text string }
		}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(text, prefix)), &answer); err != nil {
			t.Fatalf("decoding the sampling result the server got, %q: %v", text, err)
		}
		if answer.Model != sampledModel || answer.Role != "assistant" || answer.StopReason != "endTurn" || answer.Content.Type != "text" || answer.Content.Text != sampledText {
			t.Errorf("the server got sampling result %+v, want the client's answer", answer)
		}
	})

	t.Run("elicitation", func(t *testing.T) {
		before := len(mux.elicitor.requests())
		text := callTool(t, ctx, mux.c, "everything__trigger-elicitation-request", `{}`)
		reqs := mux.elicitor.requests()[before:]
		if len(reqs) != 1 {
			t.Fatalf("the client got %d elicitation requests, want 1", len(reqs))
		}
		if reqs[0].Message != "Please provide inputs for the following fields:" {
			t.Errorf("elicitation message = %q", reqs[0].Message)
		}
		schema, _ := json.Marshal(reqs[0].RequestedSchema)
		var s struct {
			Properties map[string]json.RawMessage
			Required   []string
		}
		if err := json.Unmarshal(schema, &s); err != nil || !slices.Equal(s.Required, []string{"name"}) || len(s.Properties) != 13 || s.Properties["email"] == nil {
			t.Errorf("elicitation requestedSchema = %s (%v), want the server's 13 fields with name required", schema, err)
		}
		for _, want := range []string{
			"✅ User provided the requested information!",
			"User inputs:\n- Name: Ada Lovelace\n- Agreed to terms: true\n- Email: ada@example.com\n- Favorite Integer: 42",
			`"action": "accept"`,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("trigger-elicitation-request = %q, want it to hold %q", text, want)
			}
		}
	})

	t.Run("roots", func(t *testing.T) {
		// server-everything asks for the roots once it is initialized, and
		// logs what it got, at level info.
		setLevel(t, ctx, mux.c, "debug")
		pollUntil(t, ctx, "server-everything to ask the client for its roots", func() bool { return mux.roots.callCount() > 0 })
		mux.notes.waitFor(t, ctx, 0, "the log message of the roots received at start-up",
			isLog("everything/everything-server", "info", "Roots updated: 1 root(s) received from client"))
		text := callTool(t, ctx, mux.c, "everything__get-roots-list", `{}`)
		if want := "Current MCP Roots (1 total):\n\n1. alpha\n   URI: file:///surface/alpha\n\n"; !strings.HasPrefix(text, want) {
			t.Errorf("get-roots-list = %q, want it to start %q", text, want)
		}

		// The client's change reaches the server, which asks again.
		mux.roots.set(mcp.Root{URI: "file:///surface/alpha", Name: "alpha"}, mcp.Root{URI: "file:///surface/beta", Name: "beta"})
		calls := mux.roots.callCount()
		from := mux.notes.mark()
		if err := mux.c.RootListChanges(ctx); err != nil {
			t.Fatalf("sending notifications/roots/list_changed: %v", err)
		}
		pollUntil(t, ctx, "server-everything to ask for the roots again", func() bool { return mux.roots.callCount() > calls })
		mux.notes.waitFor(t, ctx, from, "the log message of the changed roots",
			isLog("everything/everything-server", "info", "Roots updated: 2 root(s) received from client"))
		text = callTool(t, ctx, mux.c, "everything__get-roots-list", `{}`)
		if want := "Current MCP Roots (2 total):\n\n1. alpha\n   URI: file:///surface/alpha\n\n2. beta\n   URI: file:///surface/beta\n\n"; !strings.HasPrefix(text, want) {
			t.Errorf("get-roots-list = %q, want it to start %q", text, want)
		}
	})
}

// TestSurfaceLogLevelSetBeforeUpstreamIsReady sets the log level as a
// client does, right after its handshake, while mcpmux is still starting
// server-everything: the level must apply to it once it is ready, as it
// would had the client been connected to it directly. At level error, the
// info message with which server-everything acknowledges a subscription
// must not reach the client.
func TestSurfaceLogLevelSetBeforeUpstreamIsReady(t *testing.T) {
	testutil.CheckNoChildren(t)
	bin := everythingBin(t)
	ctx := testContext(t, testTimeout)
	mux := newSurfaceClient()
	mux.c = startMcpmux(t, ctx, writeConfig(t, map[string]any{"everything": map[string]any{"command": bin}}), mux.options()...).client
	listed := rawTools(t, ctx, mux.c)
	setLevel(t, ctx, mux.c, "error")
	t.Logf("level set with %d tools listed", len(listed))
	waitForTools(t, ctx, mux.c, "everything__")

	// As in TestSurfaceThroughMcpmux: the acknowledgement of the
	// unsubscription, sent at level debug, comes after that of the
	// subscription, had it been sent.
	from := mux.notes.mark()
	rawResult(t, ctx, mux.c, "resources/subscribe", json.RawMessage(uriParams(featuresURI)))
	setLevel(t, ctx, mux.c, "debug")
	rawResult(t, ctx, mux.c, "resources/unsubscribe", json.RawMessage(uriParams(featuresURI)))
	i := mux.notes.waitFor(t, ctx, from, "the log message acknowledging the unsubscription, at level debug",
		isLog("everything", "info", "Received Unsubscribe Resource request: "+featuresURI+" "))
	for _, n := range mux.notes.since(from)[:i-from] {
		if isLog("everything", "info", "Received Subscribe Resource request for URI: "+featuresURI)(n) {
			t.Errorf("info message %v reached the client at level error, set before server-everything was ready", n.Params)
		}
	}
}

// TestSurfaceClientCapabilitiesReachUpstreamsAwaitingThem connects a
// client that declares sampling, elicitation and roots to mcpmux once its
// upstreams have started, and are waiting for the client's handshake to
// learn what to declare in theirs: each must be told those capabilities in
// its initialize request, as server-everything must be for it to offer the
// tools that use them (see "tools list change after start-up" above). The
// upstreams are the test server, which logs the messages it receives.
// What mcpmux declares is decided in a race, which it loses now and then;
// several sessions of several upstreams each make that show.
func TestSurfaceClientCapabilitiesReachUpstreamsAwaitingThem(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc to see that mcpmux has started its upstreams")
	}
	testutil.CheckNoChildren(t)
	const sessions, upstreams = 20, 8
	bin := testutil.TestServerPath(t)
	for s := range sessions {
		t.Run(fmt.Sprintf("session %d", s), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t, testTimeout)
			dir := t.TempDir()
			servers := map[string]any{}
			var prefixes []string
			for i := range upstreams {
				name := fmt.Sprintf("u%d", i)
				servers[name] = map[string]any{"command": bin, "args": []string{"-name", name, "-log-file", filepath.Join(dir, name+".jsonl")}}
				prefixes = append(prefixes, name+"__")
			}
			sc := newSurfaceClient()
			sc.c = startMcpmuxThenClient(t, ctx, writeConfig(t, servers), upstreams, sc.options()...)
			waitForTools(t, ctx, sc.c, prefixes...)
			for i := range upstreams {
				name := fmt.Sprintf("u%d", i)
				caps := initializeCapabilities(t, filepath.Join(dir, name+".jsonl"))
				var missing []string
				for _, want := range []string{"sampling", "elicitation", "roots"} {
					if _, ok := caps[want]; !ok {
						missing = append(missing, want)
					}
				}
				if len(missing) > 0 {
					t.Errorf("upstream %s was told capabilities %s in its initialize request, without the client's %s", name, mustJSON(caps), strings.Join(missing, ", "))
				}
			}
		})
	}
}

// startMcpmuxThenClient is startMcpmux, except that the client connects
// only once mcpmux has started n upstream processes, which then wait for
// its handshake. It returns the initialised client. At cleanup the client
// is closed and mcpmux is given 10s to exit before it is killed; its
// stderr is logged if the test failed.
func startMcpmuxThenClient(t *testing.T, ctx context.Context, cfgPath string, n int, opts ...client.ClientOption) *client.Client {
	t.Helper()
	clientIn, muxOut, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	muxIn, clientOut, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &testutil.SyncBuffer{}
	cmd := exec.Command(testutil.BuildMcpmux(t), "serve", "--config", cfgPath, "--data-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "MCPMUX_LOG_LEVEL=debug")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = muxIn, muxOut, stderr
	cmd.WaitDelay = time.Second
	err = cmd.Start()
	muxIn.Close()
	muxOut.Close()
	if err != nil {
		clientIn.Close()
		clientOut.Close()
		t.Fatalf("starting mcpmux: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	c := client.NewClient(transport.NewIO(clientIn, clientOut, nil), opts...)
	t.Cleanup(func() {
		_ = c.Close() // closes mcpmux's stdin
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("mcpmux did not exit within 10s of its stdin closing; killing it")
			_ = cmd.Process.Kill()
			<-exited
		}
		clientIn.Close()
		if t.Failed() {
			t.Logf("mcpmux stderr:\n%s", stderr.String())
		}
	})
	pollUntil(t, ctx, fmt.Sprintf("mcpmux to start its %d upstreams", n), func() bool {
		return len(testutil.Descendants(cmd.Process.Pid)) >= n
	})
	if err := c.Start(ctx); err != nil {
		t.Fatalf("starting the client of mcpmux: %v", err)
	}
	if _, err := initialize(ctx, c); err != nil {
		t.Fatalf("initializing the client of mcpmux: %v", err)
	}
	return c
}

// initializeCapabilities returns the capabilities of the initialize
// request in a test server's message log.
func initializeCapabilities(t *testing.T, path string) map[string]json.RawMessage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the test server's message log: %v", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		var m struct {
			Method string
			Params struct {
				Capabilities map[string]json.RawMessage
			}
		}
		if json.Unmarshal([]byte(line), &m) == nil && m.Method == "initialize" {
			return m.Params.Capabilities
		}
	}
	t.Fatalf("no initialize request in %s:\n%s", path, data)
	return nil
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The tools server-everything registers once it knows that its client can
// list roots, elicit and sample.
var conditionalTools = []string{"get-roots-list", "trigger-elicitation-request", "trigger-sampling-request"}

// server-everything's resources.
const (
	staticPrefix = "demo://resource/static/document/"
	featuresURI  = staticPrefix + "features.md"
	textTemplate = "demo://resource/dynamic/text/{resourceId}"
	blobTemplate = "demo://resource/dynamic/blob/{resourceId}"
)

// The client's fixed answer to sampling.
const (
	sampledModel = "surface-model"
	sampledText  = "a sampled answer from the surface test"
)

// surfaceClient is an MCP client that answers sampling, elicitation and
// roots requests with fixed answers, and records those requests and every
// notification it receives.
type surfaceClient struct {
	c        *client.Client
	notes    *noteLog
	sampler  *fixedSampler
	elicitor *fixedElicitor
	roots    *fixedRoots
}

func newSurfaceClient() *surfaceClient {
	sc := &surfaceClient{notes: &noteLog{}, sampler: &fixedSampler{}, elicitor: &fixedElicitor{}, roots: &fixedRoots{}}
	sc.roots.set(mcp.Root{URI: "file:///surface/alpha", Name: "alpha"})
	return sc
}

// options configures a client as sc: the handshake-based revision, the
// handlers (which make mcp-go declare sampling, elicitation and roots), and
// the notification recorder, registered before the client starts.
func (sc *surfaceClient) options() []client.ClientOption {
	return []client.ClientOption{
		client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION),
		client.WithSamplingHandler(sc.sampler),
		client.WithElicitationHandler(sc.elicitor),
		client.WithRootsHandler(sc.roots),
		func(c *client.Client) { c.OnNotification(sc.notes.record) },
	}
}

// seen records what a handler was asked, safe for concurrent use.
type seen[T any] struct {
	mu   sync.Mutex
	reqs []T
}

func (s *seen[T]) add(req T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, req)
}

// requests returns what was asked so far.
func (s *seen[T]) requests() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// fixedSampler answers every sampling request with sampledText.
type fixedSampler struct{ seen[mcp.CreateMessageParams] }

func (s *fixedSampler) CreateMessage(_ context.Context, req mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	s.add(req.CreateMessageParams)
	return &mcp.CreateMessageResult{
		SamplingMessage: mcp.SamplingMessage{Role: mcp.RoleAssistant, Content: mcp.NewTextContent(sampledText)},
		Model:           sampledModel,
		StopReason:      "endTurn",
	}, nil
}

// fixedElicitor accepts every elicitation with the same few fields, after
// delay, as a person takes time to answer.
type fixedElicitor struct {
	seen[mcp.ElicitationParams]
	delay time.Duration
}

func (e *fixedElicitor) Elicit(ctx context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	e.add(req.Params)
	if e.delay > 0 {
		t := time.NewTimer(e.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{
		Action:  mcp.ElicitationResponseActionAccept,
		Content: map[string]any{"name": "Ada Lovelace", "check": true, "email": "ada@example.com", "integer": 42},
	}}, nil
}

// fixedRoots answers roots/list with the roots last set, and counts calls.
type fixedRoots struct {
	mu    sync.Mutex
	roots []mcp.Root
	calls int
}

func (r *fixedRoots) ListRoots(context.Context, mcp.ListRootsRequest) (*mcp.ListRootsResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	return &mcp.ListRootsResult{Roots: slices.Clone(r.roots)}, nil
}

func (r *fixedRoots) set(roots ...mcp.Root) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.roots = roots
}

func (r *fixedRoots) callCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// note is one notification a client received.
type note struct {
	Method string
	Params map[string]any // without _meta
}

// noteLog records the notifications a client receives, in order.
type noteLog struct {
	mu    sync.Mutex
	notes []note
}

func (l *noteLog) record(n mcp.JSONRPCNotification) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.notes = append(l.notes, note{Method: n.Method, Params: n.Params.AdditionalFields})
}

// mark returns the index the next notification will be recorded at.
func (l *noteLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.notes)
}

// since returns the notifications recorded from index from on.
func (l *noteLog) since(from int) []note {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.notes[from:])
}

// noteWait bounds the wait for one notification.
const noteWait = 15 * time.Second

// waitFor waits for a notification recorded from index from on to match,
// and returns its index. It fails t if none does within noteWait.
func (l *noteLog) waitFor(t *testing.T, ctx context.Context, from int, what string, match func(note) bool) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, noteWait)
	defer cancel()
	for {
		notes := l.since(from)
		for i, n := range notes {
			if match(n) {
				return from + i
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no %s within %s; notifications received meanwhile:\n%s", what, noteWait, describeNotes(notes))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func describeNotes(notes []note) string {
	var b strings.Builder
	for _, n := range notes {
		params, _ := json.Marshal(n.Params)
		fmt.Fprintf(&b, "  %s %s\n", n.Method, params)
	}
	return b.String()
}

// isLog matches a log message from logger at level whose data starts with
// prefix.
func isLog(logger, level, prefix string) func(note) bool {
	return func(n note) bool {
		data, _ := n.Params["data"].(string)
		return n.Method == "notifications/message" && n.Params["logger"] == logger && n.Params["level"] == level && strings.HasPrefix(data, prefix)
	}
}

// pollUntil calls cond every 20ms until it holds, failing t if it does not
// within 15s.
func pollUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, noteWait)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("still waiting for %s after %s", what, noteWait)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// compareResult makes a request directly (params) and through mcpmux
// (muxParams), fails t unless both succeed with identical results after
// compaction, and returns the direct one.
func compareResult(t *testing.T, ctx context.Context, direct, mux *client.Client, method, params, muxParams string) []byte {
	t.Helper()
	want := compact(t, rawResult(t, ctx, direct, method, json.RawMessage(params)))
	got := compact(t, rawResult(t, ctx, mux, method, json.RawMessage(muxParams)))
	if !bytes.Equal(got, want) {
		t.Errorf("%s %s through mcpmux:\n got %s\nwant %s", method, muxParams, got, want)
	}
	return want
}

// compareTimed is compareResult for a result that holds the time of day,
// to the second: it is requested directly just before and just after
// mcpmux, and mcpmux's must equal one of the two. The three take well under
// a second; if they do not (a loaded machine), they are tried again, up
// to 20 times.
func compareTimed(t *testing.T, ctx context.Context, direct, mux *client.Client, method, params, muxParams string) []byte {
	t.Helper()
	for attempt := 1; ; attempt++ {
		start := time.Now()
		before := compact(t, rawResult(t, ctx, direct, method, json.RawMessage(params)))
		got := compact(t, rawResult(t, ctx, mux, method, json.RawMessage(muxParams)))
		after := compact(t, rawResult(t, ctx, direct, method, json.RawMessage(params)))
		if time.Since(start) >= 900*time.Millisecond && attempt < 20 {
			continue
		}
		if !bytes.Equal(got, before) && !bytes.Equal(got, after) {
			t.Errorf("%s %s through mcpmux:\n got %s\nwant %s\n  or %s", method, muxParams, got, before, after)
		}
		return before
	}
}

// compareError makes a request that must fail directly and through
// mcpmux, and fails t unless both errors are the same.
func compareError(t *testing.T, ctx context.Context, direct, mux *client.Client, method, params, muxParams string) {
	t.Helper()
	want := rawError(t, ctx, direct, method, params)
	got := rawError(t, ctx, mux, method, muxParams)
	wantData, _ := json.Marshal(want.Data)
	gotData, _ := json.Marshal(got.Data)
	if got.Code != want.Code || got.Message != want.Message || !bytes.Equal(gotData, wantData) {
		t.Errorf("%s %s through mcpmux = error %d %q %s, want %d %q %s", method, muxParams, got.Code, got.Message, gotData, want.Code, want.Message, wantData)
	}
}

// rawError makes a request that must fail and returns its error.
func rawError(t *testing.T, ctx context.Context, c *client.Client, method, params string) *mcp.JSONRPCErrorDetails {
	t.Helper()
	resp, err := rawRequest(ctx, c, method, json.RawMessage(params))
	if err != nil {
		t.Fatalf("%s %s: %v", method, params, err)
	}
	if resp.Error == nil {
		t.Fatalf("%s %s = result %s, want a JSON-RPC error", method, params, resp.Result)
	}
	return resp.Error
}

// compareByKey fails t unless got holds every entry of want, identical
// after compaction, and nothing else but the keys in extra.
func compareByKey(t *testing.T, kind string, want, got map[string]json.RawMessage, extra ...string) {
	t.Helper()
	for key, w := range want {
		g, ok := got[key]
		switch {
		case !ok:
			t.Errorf("%s %q is not listed through mcpmux", kind, key)
		case !bytes.Equal(compact(t, g), compact(t, w)):
			t.Errorf("%s %q through mcpmux:\n got %s\nwant %s", kind, key, compact(t, g), compact(t, w))
		}
	}
	for key := range got {
		if _, ok := want[key]; !ok && !slices.Contains(extra, key) {
			t.Errorf("mcpmux lists %s %q, which server-everything does not", kind, key)
		}
	}
}

// rawEntries lists through c with method, following cursors, and returns
// each raw entry of the result's field by its member key.
func rawEntries(t *testing.T, ctx context.Context, c *client.Client, method, field, key string) map[string]json.RawMessage {
	t.Helper()
	out := map[string]json.RawMessage{}
	var params json.RawMessage
	for {
		var page map[string]json.RawMessage
		if err := json.Unmarshal(rawResult(t, ctx, c, method, params), &page); err != nil {
			t.Fatalf("decoding %s result: %v", method, err)
		}
		var entries []json.RawMessage
		if err := json.Unmarshal(page[field], &entries); err != nil {
			t.Fatalf("decoding %s %s: %v", method, field, err)
		}
		for _, raw := range entries {
			var e map[string]json.RawMessage
			var k string
			if json.Unmarshal(raw, &e) != nil || json.Unmarshal(e[key], &k) != nil {
				t.Fatalf("%s entry without a %s: %s", method, key, raw)
			}
			out[k] = raw
		}
		var cursor string
		if raw, ok := page["nextCursor"]; !ok || json.Unmarshal(raw, &cursor) != nil || cursor == "" {
			return out
		}
		params, _ = json.Marshal(map[string]string{"cursor": cursor})
	}
}

// callTool calls tool through c with raw args and returns the texts of its
// result, joined by newlines. It fails t on an error result.
func callTool(t *testing.T, ctx context.Context, c *client.Client, tool, args string) string {
	t.Helper()
	raw := rawResult(t, ctx, c, "tools/call", json.RawMessage(`{"name":"`+tool+`","arguments":`+args+`}`))
	var res struct {
		Content []struct{ Type, Text string }
		IsError bool
	}
	if err := json.Unmarshal(raw, &res); err != nil || res.IsError {
		t.Fatalf("tools/call %s %s = %s (%v), want a result", tool, args, raw, err)
	}
	var texts []string
	for _, c := range res.Content {
		if c.Type == "text" {
			texts = append(texts, c.Text)
		}
	}
	return strings.Join(texts, "\n")
}

// setLevel sets the log level through c.
func setLevel(t *testing.T, ctx context.Context, c *client.Client, level string) {
	t.Helper()
	if res := compact(t, rawResult(t, ctx, c, "logging/setLevel", json.RawMessage(`{"level":"`+level+`"}`))); string(res) != `{}` {
		t.Errorf("logging/setLevel %s = %s, want {}", level, res)
	}
}

// promptTexts returns the texts of a prompts/get result's messages.
func promptTexts(t *testing.T, res []byte) []string {
	t.Helper()
	var got struct {
		Messages []struct {
			Content struct{ Type, Text string }
		}
	}
	if err := json.Unmarshal(res, &got); err != nil {
		t.Fatalf("decoding prompts/get result %s: %v", res, err)
	}
	var texts []string
	for _, m := range got.Messages {
		texts = append(texts, m.Content.Text)
	}
	return texts
}

func promptParams(name, args string) string {
	return `{"name":"` + name + `","arguments":` + args + `}`
}

func promptRef(name string) string {
	return `{"type":"ref/prompt","name":"` + name + `"}`
}

func uriParams(uri string) string {
	b, _ := json.Marshal(map[string]string{"uri": uri})
	return string(b)
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
