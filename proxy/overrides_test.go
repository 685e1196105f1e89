package proxy_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/internal/testutil"
)

// listed returns the entry named name of a list result's field.
func listed(tb testing.TB, result json.RawMessage, field, name string) json.RawMessage {
	tb.Helper()
	arr, err := jsonrpc.Member(result, field)
	if err != nil {
		tb.Fatalf("%s of %s: %v", field, truncate(result), err)
	}
	elems, err := jsonrpc.Elements(arr)
	if err != nil {
		tb.Fatalf("%s of %s: %v", field, truncate(result), err)
	}
	for _, e := range elems {
		if n, _ := jsonrpc.StringMember(e, "name"); n == name {
			return e
		}
	}
	tb.Fatalf("%s lists no %q: %s", field, name, truncate(result))
	return nil
}

// splice sets members of obj, as an override does.
func splice(tb testing.TB, obj json.RawMessage, members ...string) json.RawMessage {
	tb.Helper()
	for i := 0; i < len(members); i += 2 {
		var err error
		if obj, err = jsonrpc.Set(obj, members[i], []byte(members[i+1])); err != nil {
			tb.Fatal(err)
		}
	}
	return obj
}

func TestOverridesEndToEnd(t *testing.T) {
	a := testutil.TestServer(t, "-name", "a")
	a["tools"] = map[string]any{"deny": []string{"add"}}
	a["toolOverrides"] = map[string]any{
		"echo": map[string]any{"name": "say", "description": "Says it back", "annotations": map[string]any{"readOnlyHint": false, "openWorldHint": false}},
		"add":  map[string]any{"name": "plus"}, // hidden all the same
		"fail": map[string]any{"title": ""},
	}
	a["promptOverrides"] = map[string]any{"greet": map[string]any{"name": "hello", "title": "Hello"}}
	// b names add after its echo: the two share a name, which the
	// override's holds (the upstream names break the tie), and echo is
	// renamed as in any collision.
	b := testutil.TestServer(t, "-name", "b")
	b["toolOverrides"] = map[string]any{"add": map[string]any{"name": "echo"}}
	m := startMux(t, map[string]any{"a": a, "b": b})
	tools := m.waitTools("a__say", "b__echo")
	if got := text(t, m.call("b__echo", map[string]any{"a": 1, "b": 2})); got != "3" {
		t.Errorf("b__echo (add renamed) = %q, want 3", got)
	}
	var renamedEcho []string
	for name := range tools {
		if strings.HasPrefix(name, "b__echo_") {
			renamedEcho = append(renamedEcho, name)
		}
	}
	if len(renamedEcho) != 1 || text(t, m.call(renamedEcho[0], map[string]any{"message": "m"})) != "m" {
		t.Errorf("b's own echo = %v, want one renamed echo", renamedEcho)
	}
	for _, gone := range []string{"a__echo", "a__add", "a__plus"} {
		if _, ok := tools[gone]; ok {
			t.Errorf("tools/list lists %s, want it renamed or hidden", gone)
		}
	}

	// Only the members the override sets change, spliced into the
	// upstream's bytes; annotations keep the keys it does not name, and a
	// key they lack comes first.
	d := direct(t, "-name", "a")
	upstreamTools := rawRequest(t, d, "tools/list", nil)
	want := splice(t, listed(t, upstreamTools, "tools", "echo"),
		"description", `"Says it back"`,
		"annotations", `{"openWorldHint":false,"readOnlyHint":false,"x-custom-hint":"kept"}`,
		"name", `"a__say"`)
	if got := tools["a__say"]; !bytes.Equal(got, want) {
		t.Errorf("overridden echo =\n%s\nwant\n%s", got, want)
	}
	if got, want := tools["a__fail"], splice(t, listed(t, upstreamTools, "tools", "fail"), "title", `""`, "name", `"a__fail"`); !bytes.Equal(got, want) {
		t.Errorf("fail with an empty title =\n%s\nwant\n%s", got, want)
	}

	// Called by its new name, the upstream gets its own.
	args := map[string]any{"message": "hi"}
	if got, want := m.call("a__say", args), rawRequest(t, d, "tools/call", map[string]any{"name": "echo", "arguments": args}); !bytes.Equal(got, want) {
		t.Errorf("a__say = %s, want echo's %s", got, want)
	}
	for _, old := range []string{"a__echo", "a__add", "a__plus", "echo"} {
		if e := m.fails("tools/call", map[string]any{"name": old, "arguments": map[string]any{"a": 1, "b": 2, "message": "x"}}); e.Code != jsonrpc.CodeInvalidParams || !strings.Contains(e.Message, "unknown tool") {
			t.Errorf("tools/call %s = %d %q, want unknown tool", old, e.Code, e.Message)
		}
	}

	prompts := m.must("prompts/list", nil)
	if got, want := listed(t, prompts, "prompts", "a__hello"), splice(t, listed(t, rawRequest(t, d, "prompts/list", nil), "prompts", "greet"), "title", `"Hello"`, "name", `"a__hello"`); !bytes.Equal(got, want) {
		t.Errorf("overridden greet =\n%s\nwant\n%s", got, want)
	}
	greet := map[string]any{"name": "a__hello", "arguments": map[string]string{"name": "Ann"}}
	if got, want := m.must("prompts/get", greet), rawRequest(t, d, "prompts/get", map[string]any{"name": "greet", "arguments": map[string]string{"name": "Ann"}}); !bytes.Equal(got, want) {
		t.Errorf("prompts/get a__hello = %s, want greet's %s", got, want)
	}
	if e := m.fails("prompts/get", map[string]any{"name": "a__greet"}); !strings.Contains(e.Message, "unknown prompt") {
		t.Errorf("prompts/get by the old name = %q, want unknown prompt", e.Message)
	}
	var c struct{ Completion struct{ Values []string } }
	_ = json.Unmarshal(m.must("completion/complete", map[string]any{"ref": map[string]any{"type": "ref/prompt", "name": "a__hello"}, "argument": map[string]any{"name": "name", "value": "al"}}), &c)
	if want := []string{"alice", "albert"}; !slices.Equal(c.Completion.Values, want) {
		t.Errorf("completion of a__hello = %v, want greet's %v", c.Completion.Values, want)
	}
}

// An override of a tool the upstream does not list is most likely a typo:
// it is logged once, with the closest name.
func TestOverrideOfAnUnlistedToolIsLogged(t *testing.T) {
	a := testutil.TestServer(t, "-name", "a")
	a["toolOverrides"] = map[string]any{"echoo": map[string]any{"name": "say"}}
	log := new(testutil.SyncBuffer)
	m := newMux(t, map[string]any{"a": a}, muxOptions{protocol: mcp.LATEST_LEGACY_PROTOCOL_VERSION, logger: slog.New(slog.NewTextHandler(log, nil))})
	m.waitTools("a__echo")
	m.call("a__list_changed", nil) // a new catalogue: no second warning
	m.waitTools("a__added_1")
	want := `level=WARN msg="override of an entry the upstream does not list; it changes nothing" upstream=a field=toolOverrides.echoo did_you_mean=echo`
	if got := strings.Count(log.String(), want); got != 1 {
		t.Errorf("the log has %d times %s, want once:\n%s", got, want, log)
	}
}
