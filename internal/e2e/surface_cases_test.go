package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// The tests of testSurface, one function each, in the order they run.

// surfaceFirstToolsList is testSurface's "first tools list has the tools added after start-up".
func surfaceFirstToolsList(t *testing.T, s *surface) {
	ctx, direct, first := s.ctx, s.direct, s.first
	// server-everything registers the tools that need sampling,
	// elicitation or roots once the client is initialized, and says so
	// with a list change. The direct client lists until it has them:
	// mcp-go's streamable HTTP client opens its listening stream after
	// it says it is initialized, and misses the list change now and
	// then.
	var want map[string]json.RawMessage
	testutil.WaitFor(t, fmt.Sprintf("server-everything to list %s directly", strings.Join(conditionalTools, ", ")), func() bool {
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
}

// surfacePrompts is testSurface's "prompts/get with arguments".
func surfacePrompts(t *testing.T, s *surface) {
	ctx, direct, mux := s.ctx, s.direct, s.mux
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
}

// surfaceStaticResources is testSurface's "resources/read of static resources".
func surfaceStaticResources(t *testing.T, s *surface) {
	ctx, direct, mux := s.ctx, s.direct, s.mux
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
}

// surfaceTemplatedResources is testSurface's "resources/read of a templated URI".
func surfaceTemplatedResources(t *testing.T, s *surface) {
	ctx, direct, mux := s.ctx, s.direct, s.mux
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
}

// surfaceCompletion is testSurface's "completion/complete".
func surfaceCompletion(t *testing.T, s *surface) {
	ctx, direct, mux := s.ctx, s.direct, s.mux
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
}

// surfaceSubscriptions is testSurface's "subscribe and update".
func surfaceSubscriptions(t *testing.T, s *surface) {
	ctx, mux := s.ctx, s.mux
	setLevel(t, ctx, mux.c, "debug") // for the acknowledgements, at level info
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
}

// surfaceLogging is testSurface's "logging/setLevel and log messages".
func surfaceLogging(t *testing.T, s *surface) {
	ctx, mux := s.ctx, s.mux
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
}

// surfaceProgress is testSurface's "progress of the long-running operation".
func surfaceProgress(t *testing.T, s *surface) {
	ctx, mux := s.ctx, s.mux
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
	testutil.WaitFor(t, "all but the last progress notification of each operation", func() bool {
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
}

// surfaceSampling is testSurface's "sampling".
func surfaceSampling(t *testing.T, s *surface) {
	ctx, mux := s.ctx, s.mux
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
}

// surfaceElicitation is testSurface's "elicitation".
func surfaceElicitation(t *testing.T, s *surface) {
	ctx, mux := s.ctx, s.mux
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
	var requested struct {
		Properties map[string]json.RawMessage
		Required   []string
	}
	if err := json.Unmarshal(schema, &requested); err != nil || !slices.Equal(requested.Required, []string{"name"}) || len(requested.Properties) != 13 || requested.Properties["email"] == nil {
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
}

// surfaceRoots is testSurface's "roots".
func surfaceRoots(t *testing.T, s *surface) {
	ctx, mux := s.ctx, s.mux
	// server-everything asks for the roots once it is initialized, and
	// logs what it got, at level info.
	setLevel(t, ctx, mux.c, "debug")
	testutil.WaitFor(t, "server-everything to ask the client for its roots", func() bool { return mux.roots.callCount() > 0 })
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
	testutil.WaitFor(t, "server-everything to ask for the roots again", func() bool { return mux.roots.callCount() > calls })
	mux.notes.waitFor(t, ctx, from, "the log message of the changed roots",
		isLog("everything/everything-server", "info", "Roots updated: 2 root(s) received from client"))
	text = callTool(t, ctx, mux.c, "everything__get-roots-list", `{}`)
	if want := "Current MCP Roots (2 total):\n\n1. alpha\n   URI: file:///surface/alpha\n\n2. beta\n   URI: file:///surface/beta\n\n"; !strings.HasPrefix(text, want) {
		t.Errorf("get-roots-list = %q, want it to start %q", text, want)
	}
}
