package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

func TestInitializeNegotiatesVersion(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil, "-name", "alpha")
	for asked, want := range map[string]string{"2024-11-05": "2024-11-05", "2025-06-18": "2025-06-18", "1999-01-01": "2025-11-25"} {
		var res initializeResult
		mustUnmarshal(t, p.call("initialize", map[string]any{"protocolVersion": asked}), &res)
		if res.ProtocolVersion != want || res.ServerInfo != (serverInfo{"alpha", "1.0.0"}) {
			t.Errorf("asked %s: got %+v", asked, res)
		}
		if !bytes.Contains(res.Capabilities, []byte(`"resources":{"subscribe":true,"listChanged":true}`)) {
			t.Errorf("capabilities = %s", res.Capabilities)
		}
	}
	if got := p.call("ping", nil); string(got) != "{}" {
		t.Errorf("ping = %s", got)
	}
}

func TestUnknownMethods(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil)
	p.notify("notifications/whatever", nil)
	for _, method := range []string{"server/discover", "no/such"} {
		if code, msg := p.callError(method, nil); code != codeMethodNotFound || !strings.Contains(msg, method) {
			t.Errorf("%s: %d %q", method, code, msg)
		}
	}
}

func TestToolsListKeepsRawEchoSchema(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil)
	p.initialize()
	_, line, _ := p.await(p.request("tools/list", nil))
	for _, want := range []string{
		`"$schema":"https://json-schema.org/draft/2020-12/schema"`,
		`"description":"Arguments of echo"`,
		`"anyOf":[{"required":["message"]},{"required":["email"]}]`,
		`"additionalProperties":false`,
		`"format":"email"`,
		`"outputSchema":{`,
		`"title":"Echo"`,
		`"annotations":{"readOnlyHint":true,"x-custom-hint":"kept"}`,
		`"_meta":{"com.example/kept":{"a":1}}`,
		`"x-future-field":[1,2,3]`,
	} {
		if !bytes.Contains(line, []byte(want)) {
			t.Errorf("tools/list lacks %s", want)
		}
	}
}

func TestEchoEchoesIDAndMessage(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil)
	p.initialize()
	id := json.RawMessage(`"id-<&>-\u0041"`)
	p.sendRaw([]byte(`{"jsonrpc":"2.0","id":` + string(id) + `,"method":"tools/call",` +
		`"params":{"name":"echo","arguments":{"message":"hi <there> & you"}}}`))
	_, line, _ := p.await(id)
	want := `{"jsonrpc":"2.0","id":"id-<&>-\u0041","result":{"content":[{"type":"text","text":"hi <there> & you"}],` +
		`"structuredContent":{"echoed":"hi <there> & you"}}}`
	if string(line) != want {
		t.Errorf("got  %s\nwant %s", line, want)
	}
}

func TestToolErrors(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil)
	if code, msg := p.callError("tools/call", map[string]any{"name": "error"}); code != codeToolFailed || msg != "tool failed on purpose" {
		t.Errorf("error tool: %d %q", code, msg)
	}
	if code, _ := p.callError("tools/call", map[string]any{"name": "nope"}); code != codeInvalidParams {
		t.Errorf("unknown tool: %d", code)
	}
	res := p.call("tools/call", map[string]any{"name": "fail"})
	if !bytes.Contains(res, []byte(`"isError":true`)) {
		t.Errorf("fail: %s", res)
	}
}

func TestPaginationWalksAllPages(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, []string{"TESTSERVER_ARGS=-page-size 2 -tools 5"})
	var names []string
	for cursor, pages := "", 0; ; pages++ {
		var page struct {
			Tools      []struct{ Name string }
			NextCursor string
		}
		mustUnmarshal(t, p.call("tools/list", map[string]any{"cursor": cursor}), &page)
		if len(page.Tools) == 0 || len(page.Tools) > 2 || pages > 100 {
			t.Fatalf("page %d has %d tools", pages, len(page.Tools))
		}
		for _, tool := range page.Tools {
			names = append(names, tool.Name)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if want := len(newTestServer(t).tools); len(names) != want {
		t.Errorf("walked %d tools, want %d", len(names), want)
	}
	for i := range 5 {
		if name := fmt.Sprintf("tool_%04d", i); !slices.Contains(names, name) {
			t.Errorf("missing %s in %v", name, names)
		}
	}
	if code, _ := p.callError("tools/list", map[string]any{"cursor": "bogus!"}); code != codeInvalidParams {
		t.Errorf("invalid cursor: code %d", code)
	}
}

func TestGarbageLines(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil, "-garbage")
	_, _, before := p.await(p.request("initialize", nil))
	if len(before) != 3 || string(before[0]) != "this is not json" || string(before[1]) != "{broken" {
		t.Errorf("before initialize: %q", before)
	}
	_, _, before = p.await(p.request("tools/call", map[string]any{"name": "whoami"}))
	if len(before) != 1 || json.Valid(before[0]) {
		t.Errorf("before tools/call: %q", before)
	}
}

func TestCrashExitsWithCode3(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil)
	p.initialize()
	p.request("tools/call", map[string]any{"name": "crash"})
	if code := p.exitCode(); code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
}

func TestCrashOnStartAndEOF(t *testing.T) {
	testutil.CheckLeaks(t)
	if code := start(t, nil, "-crash-on-start").exitCode(); code != 2 {
		t.Errorf("-crash-on-start: exit code %d, want 2", code)
	}
	p := start(t, nil)
	_ = p.stdin.Close()
	if code := p.exitCode(); code != 0 {
		t.Errorf("EOF: exit code %d, want 0", code)
	}
}

func TestExitAfter(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil, "-exit-after", "2")
	p.initialize()
	for range 2 {
		if got := p.tool("echo", map[string]any{"message": "x"}); got != "x" {
			t.Errorf("echo = %q", got)
		}
	}
	if code := p.exitCode(); code != 4 {
		t.Errorf("exit code %d, want 4", code)
	}
}

func TestSlowSendsProgress(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil)
	id := p.request("tools/call", map[string]any{"name": "slow", "arguments": map[string]any{"ms": 300},
		"_meta": map[string]any{"progressToken": "tok"}})
	msg, _, before := p.await(id)
	if got := resultText(t, msg.Result); got != "slept 300 ms" {
		t.Errorf("result %q", got)
	}
	last := 0
	for _, line := range before {
		var n struct {
			Method string
			Params struct {
				ProgressToken string
				Progress      int
				Total         int
			}
		}
		mustUnmarshal(t, line, &n)
		if n.Method != "notifications/progress" || n.Params.ProgressToken != "tok" || n.Params.Total != 6 || n.Params.Progress <= last {
			t.Errorf("bad progress notification %s", line)
		}
		last = n.Params.Progress
	}
	if len(before) < 3 {
		t.Errorf("only %d progress notifications", len(before))
	}
}

func TestCancellationIsRecorded(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil)
	p.initialize()
	p.send(map[string]any{"jsonrpc": "2.0", "id": "s-1", "method": "tools/call",
		"params": map[string]any{"name": "slow", "arguments": map[string]any{"ms": 10000}}})
	slowID := p.request("tools/call", map[string]any{"name": "slow", "arguments": map[string]any{"ms": 10000}})
	p.notify("notifications/cancelled", map[string]any{"requestId": "s-1", "reason": "test"})
	p.notify("notifications/cancelled", map[string]any{"requestId": slowID})

	msg, _, before := p.await(p.request("tools/call", map[string]any{"name": "cancelled"}))
	if got, want := resultText(t, msg.Result), `["s-1",`+string(slowID)+`]`; got != want {
		t.Errorf("cancelled = %s, want %s", got, want)
	}
	_, _, more := p.await(p.request("ping", nil))
	if lines := append(before, more...); len(lines) != 0 {
		t.Errorf("cancelled requests were answered: %q", lines)
	}
}

// Requests are handled concurrently: 50 slow calls are all answered
// while a call that never answers, sent first, is still running (a
// server that handled them in turn would answer none of them).
func TestConcurrentRequests(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil)
	p.send(map[string]any{"jsonrpc": "2.0", "id": "hang", "method": "tools/call", "params": map[string]any{"name": "hang"}})
	want := map[string]bool{}
	for i := range 50 {
		id := mustJSON(i)
		if i%2 == 1 {
			id = mustJSON(fmt.Sprintf("str-%d", i))
		}
		want[string(id)] = true
		p.send(map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/call",
			"params": map[string]any{"name": "slow", "arguments": map[string]any{"ms": 100}}})
	}
	for range 50 {
		var msg rpcMessage
		mustUnmarshal(t, p.next(), &msg)
		if !want[string(msg.ID)] || msg.Error != nil {
			t.Fatalf("unexpected response %+v", msg)
		}
		delete(want, string(msg.ID))
	}
}

// TestBigMessages checks raw lines, as encoding/json is slow under -race.
func TestBigMessages(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil)
	line, _ := p.awaitLine(p.request("tools/call", map[string]any{"name": "big"}))
	if !hasRun(line, `"text":"`, 'x', 10<<20, `"`) {
		t.Errorf("big did not return 10 MiB of x: %d bytes", len(line))
	}
	msg := strings.Repeat("y", 12<<20)
	p.sendRaw([]byte(`{"jsonrpc":"2.0","id":"e","method":"tools/call","params":{"name":"echo","arguments":{"message":"` + msg + `"}}}`))
	line, _ = p.awaitLine(json.RawMessage(`"e"`))
	if !hasRun(line, `"structuredContent":{"echoed":"`, 'y', len(msg), `"}`) {
		t.Errorf("echo of 12 MiB returned %d bytes", len(line))
	}
}

// hasRun reports whether line holds before, then n times c, then after.
// It is bytes.Contains(line, before+n×c+after) without a pattern of
// megabytes: bytes.Index falls back to Rabin-Karp on one, a loop over
// every byte that -race instruments, and that took seconds of a loaded
// machine's CPU.
func hasRun(line []byte, before string, c byte, n int, after string) bool {
	for i := bytes.Index(line, []byte(before)); i >= 0; {
		rest := line[i+len(before):]
		if len(rest) >= n+len(after) && bytes.Count(rest[:n], []byte{c}) == n && bytes.HasPrefix(rest[n:], []byte(after)) {
			return true
		}
		j := bytes.Index(rest, []byte(before))
		if j < 0 {
			return false
		}
		i += len(before) + j
	}
	return false
}

func TestLogFileRecordsMessages(t *testing.T) {
	testutil.CheckLeaks(t)
	logPath := filepath.Join(t.TempDir(), "log.jsonl")
	p := start(t, nil, "-log-file", logPath)
	params := `{"name":"get weather (beta)","arguments":{"city":"Paris","n":[1,2]},"_meta":{"progressToken":9,"x":"y"}}`
	p.sendRaw([]byte(`{"jsonrpc":"2.0","id":"c1","method":"tools/call","params":` + params + `}`))
	p.notify("notifications/cancelled", map[string]any{"requestId": "c1"})
	p.call("ping", nil)

	lines := strings.Split(strings.TrimSpace(readFile(t, logPath)), "\n")
	want := []string{
		`{"method":"tools/call","id":"c1","params":` + params + `}`,
		`{"method":"notifications/cancelled","params":{"requestId":"c1"}}`,
		`{"method":"ping","id":1,"params":null}`,
	}
	if !slices.Equal(lines, want) {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestServerToClientRequests(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil)
	id := p.request("tools/call", map[string]any{"name": "sample"})
	var req rpcMessage
	mustUnmarshal(t, p.next(), &req)
	if req.Method != "sampling/createMessage" || req.ID == nil {
		t.Fatalf("expected sampling request, got %+v", req)
	}
	p.send(map[string]any{"jsonrpc": "2.0", "id": req.ID,
		"result": map[string]any{"role": "assistant", "model": "m", "content": map[string]any{"type": "text", "text": "Paris"}}})
	msg, _, _ := p.await(id)
	if got := resultText(t, msg.Result); got != "Paris" {
		t.Errorf("sample = %q", got)
	}
}

func TestListChangedAddsTool(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil)
	p.tool("list_changed", nil)
	var n rpcMessage
	mustUnmarshal(t, p.next(), &n)
	if n.Method != "notifications/tools/list_changed" {
		t.Fatalf("got %+v", n)
	}
	if got := p.tool("added_1", nil); got != "added_1" {
		t.Errorf("added_1 = %q", got)
	}
}

func TestResourcesPromptsCompletion(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil, "-name", "srv", "-shared-uri", "shared://x")
	read := p.call("resources/read", map[string]any{"uri": "test://srv/tmpl/42"})
	if !bytes.Contains(read, []byte(`"text":"resource test://srv/tmpl/42"`)) {
		t.Errorf("template read: %s", read)
	}
	if read := p.call("resources/read", map[string]any{"uri": "shared://x"}); !bytes.Contains(read, []byte(`"text":"from srv"`)) {
		t.Errorf("shared read: %s", read)
	}
	if code, _ := p.callError("resources/read", map[string]any{"uri": "test://srv/nope"}); code != codeResourceNotFound {
		t.Errorf("unknown resource: code %d", code)
	}
	p.call("resources/subscribe", map[string]any{"uri": "test://srv/res/1"})
	if line := p.next(); !bytes.Contains(line, []byte(`"method":"notifications/resources/updated","params":{"uri":"test://srv/res/1"}`)) {
		t.Errorf("expected an update, got %s", line)
	}
	got := p.call("prompts/get", map[string]any{"name": "greet", "arguments": map[string]any{"name": "Ann"}})
	if !bytes.Contains(got, []byte(`"text":"Hello, Ann!"`)) {
		t.Errorf("greet: %s", got)
	}
	got = p.call("completion/complete", map[string]any{"ref": map[string]any{"type": "ref/prompt", "name": "greet"},
		"argument": map[string]any{"name": "name", "value": "al"}})
	if !bytes.Contains(got, []byte(`"values":["alice","albert"]`)) {
		t.Errorf("complete: %s", got)
	}
}

// newTestServer builds an in-process server with the flags of
// TestPaginationWalksAllPages, to count its catalogue.
func newTestServer(t *testing.T) *server {
	cfg, err := parseConfig(nil, "-page-size 2 -tools 5")
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustUnmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("unmarshal %.300s: %v", data, err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestSimpleTools(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, []string{"TS_TEST_VAR=hello"}, "-name", "bob", "-odd-names", "-stderr-chatter")
	wd, _ := os.Getwd()
	for _, c := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"whoami", nil, "bob"},
		{"add", map[string]any{"a": 2, "b": 0.5}, "2.5"},
		{"env", map[string]any{"name": "TS_TEST_VAR"}, "hello"},
		{"cwd", nil, wd},
		{"get weather (beta)", nil, "get weather (beta)"},
		{"emoji_🚀", nil, "emoji_🚀"},
		{"count", nil, "6"},
	} {
		if got := p.tool(c.tool, c.args); got != c.want {
			t.Errorf("%s = %q, want %q", c.tool, got, c.want)
		}
	}
	if !strings.Contains(p.stderr.String(), "testserver: handling tools/call\n") {
		t.Errorf("no chatter on stderr: %q", p.stderr.String())
	}
}

func TestLogAndClientRequests(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil)
	msg, _, before := p.await(p.request("tools/call", map[string]any{"name": "log", "arguments": map[string]any{"level": "warning", "data": map[string]any{"k": 1}}}))
	if msg.Error != nil || len(before) != 1 ||
		string(before[0]) != `{"jsonrpc":"2.0","method":"notifications/message","params":{"data":{"k":1},"level":"warning","logger":"testserver"}}` {
		t.Errorf("log sent %q", before)
	}
	for tool, want := range map[string]string{
		"roots":  `{"roots":[{"uri":"file:///tmp"}]}`,
		"elicit": `{"action":"accept","content":{"name":"Ann"}}`,
	} {
		id := p.request("tools/call", map[string]any{"name": tool})
		var req rpcMessage
		mustUnmarshal(t, p.next(), &req)
		p.sendRaw([]byte(`{"jsonrpc":"2.0","id":` + string(req.ID) + `,"result":` + want + `}`))
		msg, _, _ := p.await(id)
		if got := resultText(t, msg.Result); got != want {
			t.Errorf("%s = %s, want %s", tool, got, want)
		}
	}
}

func TestHangInitialize(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil, "-hang-initialize", "-slow-list", "1h")
	p.request("initialize", nil)
	p.request("tools/list", nil)
	_, _, before := p.await(p.request("ping", nil))
	// At stdin's EOF the server exits, so everything it will ever write is
	// read below.
	_ = p.stdin.Close()
	var after [][]byte
	guard := time.After(testutil.WaitTimeout)
read:
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				break read
			}
			after = append(after, line)
		case <-guard:
			t.Fatal("the server did not exit at stdin's EOF")
		}
	}
	if len(before) != 0 || len(after) != 0 {
		t.Errorf("initialize or tools/list was answered: %q %q", before, after)
	}
}

func TestLateTools(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil, "-late-tools", "2")
	listed := func() []string {
		var res struct{ Tools []struct{ Name string } }
		mustUnmarshal(t, p.call("tools/list", nil), &res)
		var names []string
		for _, tool := range res.Tools {
			names = append(names, tool.Name)
		}
		return names
	}
	if first := listed(); slices.Contains(first, "late_0000") {
		t.Fatalf("first tools/list = %q, want no late tools yet", first)
	}
	var n rpcMessage
	mustUnmarshal(t, p.next(), &n)
	if n.Method != "notifications/tools/list_changed" {
		t.Fatalf("after the first tools/list got %+v, want tools/list_changed", n)
	}
	if second := listed(); !slices.Contains(second, "late_0001") {
		t.Errorf("second tools/list = %q, want the late tools", second)
	}
}

func TestRootsTool(t *testing.T) {
	testutil.CheckLeaks(t)
	for caps, want := range map[string]bool{`{}`: false, `{"roots":{}}`: true} {
		p := start(t, nil, "-roots-tool")
		p.call("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": json.RawMessage(caps)})
		var res struct{ Tools []struct{ Name string } }
		mustUnmarshal(t, p.call("tools/list", nil), &res)
		got := slices.ContainsFunc(res.Tools, func(t struct{ Name string }) bool { return t.Name == "roots_tool" })
		if got != want {
			t.Errorf("client capabilities %s: roots_tool listed = %t, want %t", caps, got, want)
		}
	}
}
