package proxy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/upstream"
)

// rawMux starts mcpmux with servers for a raw line client, and does the
// handshake.
func rawMux(t *testing.T, servers map[string]any, mo muxOptions, opts ...func(*upstream.Options)) *mux {
	t.Helper()
	mo.raw = true
	m := newMux(t, servers, mo, opts...)
	m.lines.handshake()
	return m
}

// TestHostileLines sends every kind of message JSON-RPC 2.0 and mcpmux's
// routing refuse, one line at a time, and checks each answer, and that
// the next valid request is served. Hidden tools must stay unreachable.
func TestHostileLines(t *testing.T) {
	log := filepath.Join(t.TempDir(), "a.log")
	a := testutil.TestServer(t, "-name", "a", "-log-file", log)
	a["tools"] = map[string]any{"deny": []string{"env", "crash"}}
	m := rawMux(t, map[string]any{"a": a}, muxOptions{})
	c := m.lines
	if r := c.roundTrip(`"list"`, `{"jsonrpc":"2.0","id":"list","method":"tools/list"}`); !strings.Contains(string(r.Result), `"a__echo"`) {
		t.Fatalf("tools/list = %s", r.line)
	}
	tests := []struct {
		name string
		line string
		id   string // the id the error must carry, raw; "null" for none
		code int    // 0: no answer at all (a notification or a response)
		msg  string // in the error's message
	}{
		{"not JSON", `{"jsonrpc":"2.0","id":1,`, "null", -32700, "parse error"},
		{"empty object", `{}`, "null", -32600, `"jsonrpc"`},
		{"null", `null`, "null", -32600, "got null"},
		{"batch", `[{"jsonrpc":"2.0","id":2,"method":"ping"}]`, "null", -32600, "batch"},
		{"empty batch", `[]`, "null", -32600, "batch"},
		{"null id", `{"jsonrpc":"2.0","id":null,"method":"ping"}`, "null", -32600, "null"},
		{"object id", `{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}`, "null", -32600, "string or a number"},
		{"array id", `{"jsonrpc":"2.0","id":[1],"method":"ping"}`, "null", -32600, "string or a number"},
		{"bool id", `{"jsonrpc":"2.0","id":true,"method":"ping"}`, "null", -32600, "string or a number"},
		{"old version", `{"jsonrpc":"1.0","id":3,"method":"ping"}`, "3", -32600, `"2.0"`},
		{"no version", `{"id":4,"method":"ping"}`, "4", -32600, `"2.0"`},
		{"string params", `{"jsonrpc":"2.0","id":5,"method":"tools/list","params":"x"}`, "5", -32600, "params"},
		{"duplicate method", `{"jsonrpc":"2.0","id":6,"method":"tools/list","method":"tools/call"}`, "null", -32600, `duplicate member "method"`},
		{"case variant of method", `{"jsonrpc":"2.0","id":7,"method":"ping","Method":"tools/call"}`, "null", -32600, `"Method"`},

		{"duplicate tool name", `{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"a__echo","name":"env","arguments":{"name":"PATH"}}}`,
			"10", -32600, `duplicate member "name"`},
		{"upper-case tool name", `{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"a__echo","NAME":"env"}}`,
			"11", -32600, `member "NAME" differs from "name" only in case`},
		{"title-case tool name alone", `{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"Name":"a__env"}}`,
			"12", -32600, `"Name"`},
		{"escaped duplicate", `{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"a__echo","n\u0061me":"env"}}`,
			"13", -32600, `duplicate member "name"`},
		{"duplicate arguments", `{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{"name":"a__echo","arguments":{},"arguments":{"x":1}}}`,
			"14", -32600, `duplicate member "arguments"`},
		{"duplicate progress token", `{"jsonrpc":"2.0","id":15,"method":"tools/call","params":{"name":"a__echo","_meta":{"progressToken":1,"progressToken":2}}}`,
			"15", -32600, `params._meta`},
		{"long-s progress token", `{"jsonrpc":"2.0","id":16,"method":"tools/call","params":{"name":"a__echo","_meta":{"progreſſToken":1}}}`,
			"16", -32600, `"progressToken"`},
		{"case variant of _meta", `{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"a__echo","_META":{}}}`,
			"17", -32600, `"_meta"`},
		{"duplicate prompt name", `{"jsonrpc":"2.0","id":20,"method":"prompts/get","params":{"name":"a__plain","name":"greet"}}`,
			"20", -32600, `duplicate member "name"`},
		{"duplicate name in completion ref", `{"jsonrpc":"2.0","id":21,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"a__greet","name":"x"},"argument":{"name":"name","value":"a"}}}`,
			"21", -32600, `params.ref`},
		{"case variant in completion ref", `{"jsonrpc":"2.0","id":22,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"a__greet","Type":"ref/resource"},"argument":{"name":"name","value":"a"}}}`,
			"22", -32600, `"Type"`},
		{"duplicate ref", `{"jsonrpc":"2.0","id":23,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"a__greet"},"ref":{}}}`,
			"23", -32600, `duplicate member "ref"`},
		{"duplicate uri", `{"jsonrpc":"2.0","id":24,"method":"resources/read","params":{"uri":"test://a/res/0","uri":"test://b/res/0"}}`,
			"24", -32600, `duplicate member "uri"`},
		{"case variant of uri", `{"jsonrpc":"2.0","id":25,"method":"resources/subscribe","params":{"uri":"test://a/res/0","URI":"x"}}`,
			"25", -32600, `"URI"`},
		{"duplicate cursor", `{"jsonrpc":"2.0","id":26,"method":"tools/list","params":{"cursor":"","cursor":"x"}}`,
			"26", -32600, `duplicate member "cursor"`},
		{"duplicate level", `{"jsonrpc":"2.0","id":27,"method":"logging/setLevel","params":{"level":"info","level":"debug"}}`,
			"27", -32600, `duplicate member "level"`},
		{"duplicate params member of ping", `{"jsonrpc":"2.0","id":28,"method":"ping","params":{"a":1,"a":2}}`,
			"28", -32600, `duplicate member "a"`},
		{"cancellation with duplicate request ids", `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"requestId":2}}`, "", 0, ""},
		{"response to no request", `{"jsonrpc":"2.0","id":"nobody","result":{}}`, "", 0, ""},
		{"invalid response", `{"jsonrpc":"2.0","id":"nobody","result":{},"error":{"code":1,"message":"m"}}`, "", 0, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.send(tt.line)
			if tt.code != 0 {
				r := c.take(func(w wireMsg) bool { return w.Method == "" && w.Error != nil && string(w.ID) == tt.id })
				if r.Error.Code != tt.code || !strings.Contains(r.Error.Message, tt.msg) {
					t.Errorf("%s: answered %s; want code %d with %q", tt.line, r.line, tt.code, tt.msg)
				}
			}
			// The next valid request is served (and, for a notification or a
			// response, nothing came back before it).
			id := fmt.Sprintf(`"next-%d"`, i)
			r := c.roundTrip(id, `{"jsonrpc":"2.0","id":`+id+`,"method":"tools/call","params":{"name":"a__echo","arguments":{"message":"still here"}}}`)
			if r.Error != nil || !strings.Contains(string(r.Result), "still here") {
				t.Fatalf("after %s: the next call answered %s", tt.line, r.line)
			}
		})
	}
	c.send(`{"jsonrpc":"2.0","id":"last","method":"ping"}`)
	c.take(func(w wireMsg) bool { return string(w.ID) == `"last"` })
	for _, line := range c.rest() {
		if !strings.Contains(line, `"method"`) {
			t.Errorf("an answer no test asked for: %s", line)
		}
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		var e struct {
			Method string
			Params struct{ Name string }
		}
		_ = json.Unmarshal([]byte(line), &e)
		if e.Method == "tools/call" && e.Params.Name != "echo" || e.Method == "prompts/get" || e.Method == "completion/complete" {
			t.Errorf("the upstream received %s", strings.TrimSpace(line))
		}
	}
}

// TestIDsByteForByte checks that ids come back exactly as written, on
// methods mcpmux serves and on those mcp-go answers.
func TestIDsByteForByte(t *testing.T) {
	m := rawMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a")}, muxOptions{})
	c := m.lines
	for _, id := range []string{`9007199254740993`, `-9007199254740993`, `1e400`, `0.1000000000000000055511151231257827`, `"a\"b\u00e9\\"`, `"🚀"`, `12345678901234567890123`} {
		for _, method := range []string{"ping", "tools/list", "initialize"} {
			line := `{"jsonrpc":"2.0","id":` + id + `,"method":"` + method + `"}`
			if method == "initialize" {
				line = `{"jsonrpc":"2.0","id":` + id + `,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
			}
			c.send(line)
			r := c.take(func(w wireMsg) bool {
				return w.Method == "" && strings.HasPrefix(w.line, `{"jsonrpc":"2.0","id":`+id+`,`)
			})
			if r.Error != nil && method != "initialize" {
				t.Errorf("%s with id %s: %s", method, id, r.line)
			}
		}
	}
}

// TestIDInUse sends a request with the id of one in flight: it is refused,
// and the first one is answered as if nothing happened.
func TestIDInUse(t *testing.T) {
	m := rawMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a")}, muxOptions{})
	c := m.lines
	c.send(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"a__slow","arguments":{"ms":500}}}`)
	// Wait until the first is in flight: a ping sent after it is answered
	// after it was tracked, since both are read in order.
	c.roundTrip(`"p"`, `{"jsonrpc":"2.0","id":"p","method":"ping"}`)
	second := c.roundTrip(`5`, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"a__echo","arguments":{"message":"second"}}}`)
	if second.Error == nil || second.Error.Code != -32600 || !strings.Contains(second.Error.Message, "already in use") {
		t.Fatalf("second request with id 5 = %s, want -32600 id already in use", second.line)
	}
	first := c.response(`5`)
	if first.Error != nil || !strings.Contains(string(first.Result), "slept 500 ms") {
		t.Fatalf("first request with id 5 = %s, want its result", first.line)
	}
	again := c.roundTrip(`5`, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"a__echo","arguments":{"message":"again"}}}`)
	if again.Error != nil || !strings.Contains(string(again.Result), "again") {
		t.Fatalf("id 5 once free = %s", again.line)
	}
}

// TestMessageSizeBound sends messages over the limit both ways: each is
// refused with an error that names the limit and the side that sent it,
// to the request it belongs to, and the connection goes on.
func TestMessageSizeBound(t *testing.T) {
	const limit = 64 << 10
	m := rawMux(t, map[string]any{"a": testutil.TestServer(t, "-name", "a")}, muxOptions{maxSize: limit},
		func(o *upstream.Options) { o.MaxMessageSize = limit })
	c := m.lines
	big := strings.Repeat("x", limit)
	for _, tt := range []struct{ id, line string }{
		{"42", `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"a__echo","arguments":{"message":"` + big + `"}}}`},
		{`"at-the-end"`, `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"a__echo","arguments":{"message":"` + big + `"}},"id":"at-the-end"}`},
	} {
		r := c.roundTrip(tt.id, tt.line)
		if r.Error == nil || r.Error.Code != -32600 || !strings.Contains(r.Error.Message, "the client sent a message of 64.") ||
			!strings.Contains(r.Error.Message, "maxMessageSize (64 KB)") {
			t.Errorf("a message over the limit from the client = %.300s; want -32600 naming the client and the limit", r.line)
		}
	}
	r := c.roundTrip(`"big"`, `{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"name":"a__big","arguments":{"bytes":100000}}}`)
	if r.Error == nil || !strings.Contains(r.Error.Message, "the upstream sent a message of 97.") || !strings.Contains(r.Error.Message, "maxMessageSize (64 KB)") {
		t.Errorf("a result over the limit = %.300s; want an error naming the upstream and the limit", r.line)
	}
	r = c.roundTrip(`"fits"`, `{"jsonrpc":"2.0","id":"fits","method":"tools/call","params":{"name":"a__big","arguments":{"bytes":60000}}}`)
	if r.Error != nil || len(r.Result) < 60000 {
		t.Errorf("a result under the limit = %.300s", r.line)
	}
	if st := m.sups["a"].Status(); st.Restarts != 0 || st.State != upstream.StateReady {
		t.Errorf("upstream after a message over the limit: %+v; want it ready, never restarted", st)
	}
}
