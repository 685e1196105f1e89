package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// What the surface tests (surface_test.go, surface_cases_test.go) are
// made of: server-everything's names, the client that answers its
// requests and records its notifications, and the comparisons of direct
// and relayed answers.

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
