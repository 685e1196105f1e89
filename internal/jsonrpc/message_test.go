package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name     string
		line     string
		want     Message // on success
		code     int     // the error's code; 0 for none
		errID    string  // the id the error keeps ("" for none)
		response bool    // IsResponse, on failure too
	}{
		{name: "request", line: `{"jsonrpc":"2.0","id":1,"method":"ping"}`,
			want: Message{ID: json.RawMessage(`1`), Method: "ping"}},
		{name: "big integer id kept as written", line: `{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}`,
			want: Message{ID: json.RawMessage(`9007199254740993`), Method: "ping"}},
		{name: "string id and params", line: `{"method":"tools/call","params":{"name":"x"},"id":"a\"b","jsonrpc":"2.0"}`,
			want: Message{ID: json.RawMessage(`"a\"b"`), Method: "tools/call", Params: json.RawMessage(`{"name":"x"}`)}},
		{name: "notification", line: `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			want: Message{Method: "notifications/initialized"}},
		{name: "null params are none", line: `{"jsonrpc":"2.0","method":"n","params":null}`, want: Message{Method: "n"}},
		{name: "array params", line: `{"jsonrpc":"2.0","method":"n","params":[1]}`, want: Message{Method: "n", Params: json.RawMessage(`[1]`)}},
		{name: "result", line: `{"jsonrpc":"2.0","id":"mx-1","result":{"a":1}}`,
			want: Message{ID: json.RawMessage(`"mx-1"`), Result: json.RawMessage(`{"a":1}`), reply: true}},
		{name: "error", line: `{"jsonrpc":"2.0","id":"mx-1","error":{"code":-32601,"message":"no","data":{"x":[1]}}}`,
			want: Message{ID: json.RawMessage(`"mx-1"`), Error: &Error{Code: -32601, Message: "no", Data: json.RawMessage(`{"x":[1]}`)}, reply: true}},
		{name: "error with a null id", line: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}`,
			want: Message{ID: json.RawMessage(`null`), Error: &Error{Code: -32700, Message: "parse error"}, reply: true}},
		{name: "escaped version", line: `{"jsonrpc":"2\u002e0","id":1,"method":"ping"}`,
			want: Message{ID: json.RawMessage(`1`), Method: "ping"}},

		{name: "not JSON", line: `{"jsonrpc":"2.0",`, code: CodeParseError},
		{name: "garbage", line: `hello`, code: CodeParseError},
		{name: "empty object", line: `{}`, code: CodeInvalidRequest},
		{name: "null", line: `null`, code: CodeInvalidRequest},
		{name: "batch", line: `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, code: CodeInvalidRequest},
		{name: "empty batch", line: `[]`, code: CodeInvalidRequest},
		{name: "number", line: `42`, code: CodeInvalidRequest},
		{name: "no version", line: `{"id":1,"method":"ping"}`, code: CodeInvalidRequest, errID: "1"},
		{name: "wrong version", line: `{"jsonrpc":"1.0","id":"x","method":"ping"}`, code: CodeInvalidRequest, errID: `"x"`},
		{name: "version as number", line: `{"jsonrpc":2.0,"id":1,"method":"ping"}`, code: CodeInvalidRequest, errID: "1"},
		{name: "null id", line: `{"jsonrpc":"2.0","id":null,"method":"ping"}`, code: CodeInvalidRequest},
		{name: "object id", line: `{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}`, code: CodeInvalidRequest},
		{name: "array id", line: `{"jsonrpc":"2.0","id":[1],"method":"ping"}`, code: CodeInvalidRequest},
		{name: "bool id", line: `{"jsonrpc":"2.0","id":true,"method":"ping"}`, code: CodeInvalidRequest},
		{name: "method not a string", line: `{"jsonrpc":"2.0","id":1,"method":7}`, code: CodeInvalidRequest, errID: "1"},
		{name: "empty method", line: `{"jsonrpc":"2.0","id":1,"method":""}`, code: CodeInvalidRequest, errID: "1"},
		{name: "string params", line: `{"jsonrpc":"2.0","id":1,"method":"m","params":"x"}`, code: CodeInvalidRequest, errID: "1"},
		{name: "request with a result", line: `{"jsonrpc":"2.0","id":1,"method":"m","result":{}}`, code: CodeInvalidRequest, errID: "1", response: true},
		{name: "duplicate id", line: `{"jsonrpc":"2.0","id":1,"id":2,"method":"m"}`, code: CodeInvalidRequest},
		{name: "duplicate method", line: `{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"}`, code: CodeInvalidRequest},
		{name: "case variant of method", line: `{"jsonrpc":"2.0","id":1,"method":"tools/list","METHOD":"tools/call"}`, code: CodeInvalidRequest},
		{name: "case variant of id", line: `{"jsonrpc":"2.0","ID":1,"method":"ping"}`, code: CodeInvalidRequest},
		{name: "neither method nor result", line: `{"jsonrpc":"2.0","id":5}`, code: CodeInvalidRequest, errID: "5"},
		{name: "result and error", line: `{"jsonrpc":"2.0","id":5,"result":{},"error":{"code":1,"message":""}}`, code: CodeInvalidRequest, errID: "5", response: true},
		{name: "response without id", line: `{"jsonrpc":"2.0","result":{}}`, code: CodeInvalidRequest, response: true},
		{name: "result with null id", line: `{"jsonrpc":"2.0","id":null,"result":{}}`, code: CodeInvalidRequest, response: true},
		{name: "error not an object", line: `{"jsonrpc":"2.0","id":5,"error":"bad"}`, code: CodeInvalidRequest, errID: "5", response: true},
		{name: "error code not an integer", line: `{"jsonrpc":"2.0","id":5,"error":{"code":"x","message":"m"}}`, code: CodeInvalidRequest, errID: "5", response: true},
		{name: "error code fractional", line: `{"jsonrpc":"2.0","id":5,"error":{"code":1.5,"message":"m"}}`, code: CodeInvalidRequest, errID: "5", response: true},
		{name: "error without message", line: `{"jsonrpc":"2.0","id":5,"error":{"code":1}}`, code: CodeInvalidRequest, errID: "5", response: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode([]byte(tt.line))
			if tt.code != 0 {
				if err == nil || err.Code != tt.code {
					t.Fatalf("Decode(%s) = %+v, %v; want error %d", tt.line, m, err, tt.code)
				}
				if string(m.ID) != tt.errID {
					t.Errorf("Decode(%s) keeps id %s, want %q", tt.line, m.ID, tt.errID)
				}
				if m.IsResponse() != tt.response {
					t.Errorf("Decode(%s).IsResponse() = %v, want %v", tt.line, m.IsResponse(), tt.response)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%s) = %v", tt.line, err)
			}
			if !sameMessage(m, tt.want) {
				t.Errorf("Decode(%s) = %+v, want %+v", tt.line, m, tt.want)
			}
		})
	}
}

func sameMessage(a, b Message) bool {
	same := bytes.Equal(a.ID, b.ID) && a.Method == b.Method && bytes.Equal(a.Params, b.Params) &&
		bytes.Equal(a.Result, b.Result) && a.reply == b.reply && (a.Error == nil) == (b.Error == nil)
	if same && a.Error != nil {
		same = a.Error.Code == b.Error.Code && a.Error.Message == b.Error.Message && bytes.Equal(a.Error.Data, b.Error.Data)
	}
	return same
}

func TestEncoders(t *testing.T) {
	tests := []struct{ got, want string }{
		{string(AppendRequest(nil, json.RawMessage(`"mx-1"`), "tools/call", json.RawMessage(`{"name":"echo"}`))),
			`{"jsonrpc":"2.0","id":"mx-1","method":"tools/call","params":{"name":"echo"}}`},
		{string(AppendRequest(nil, json.RawMessage(`7`), "ping", nil)), `{"jsonrpc":"2.0","id":7,"method":"ping"}`},
		{string(AppendNotification(nil, "notifications/cancelled", json.RawMessage(`{"requestId":1}`))),
			`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`},
		{string(AppendResult(nil, json.RawMessage(`9007199254740993`), json.RawMessage("{\n  \"a\": [1,\r\n 2]\n}"))),
			`{"jsonrpc":"2.0","id":9007199254740993,"result":{"a":[1,2]}}`},
		{string(AppendError(nil, nil, &Error{Code: -32600, Message: `bad "x" <y>`})),
			`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"bad \"x\" <y>"}}`},
		{string(AppendError(nil, json.RawMessage(`"a"`), &Error{Code: 1, Message: "m", Data: json.RawMessage(`{"uri":"x"}`)})),
			`{"jsonrpc":"2.0","id":"a","error":{"code":1,"message":"m","data":{"uri":"x"}}}`},
	}
	for _, tt := range tests {
		if tt.got != tt.want+"\n" {
			t.Errorf("encoded %q, want %q", tt.got, tt.want+"\n")
		}
		if m, err := Decode([]byte(tt.got)); err != nil {
			t.Errorf("Decode(%s) = %+v, %v", tt.got, m, err)
		}
	}
}

func TestReader(t *testing.T) {
	big := `{"jsonrpc":"2.0","id":"mx-7","result":{"text":"` + strings.Repeat("x", 200<<10) + `"}}`
	bigTailID := `{"result":{"text":"` + strings.Repeat("y", 200<<10) + `","id":"inner"},"jsonrpc":"2.0","id":"mx-8"}`
	fits := `{"jsonrpc":"2.0","id":1,"result":"` + strings.Repeat("z", 150<<10) + `"}`
	in := "\n  " + `{"a":1}` + "  \r\n\n" + big + "\n" + fits + "\n" + bigTailID + "\n" + `{"b":2}`
	r := NewReader(strings.NewReader(in), 180<<10)

	expectLine := func(want string) {
		t.Helper()
		got, err := r.Next()
		if err != nil || string(got) != want {
			t.Fatalf("Next() = %.40q…, %v; want %.40q…", got, err, want)
		}
	}
	expectTooLarge := func(size int, id string) {
		t.Helper()
		_, err := r.Next()
		var tl *TooLargeError
		if !errors.As(err, &tl) {
			t.Fatalf("Next() = %v, want a TooLargeError", err)
		}
		if tl.Size != int64(size) || tl.Max != 180<<10 || string(tl.ID()) != id {
			t.Errorf("TooLargeError = size %d max %d id %s; want size %d id %s", tl.Size, tl.Max, tl.ID(), size, id)
		}
		if !strings.Contains(tl.Error(), "180 KB") {
			t.Errorf("error %q does not name the limit", tl.Error())
		}
	}
	expectLine(`{"a":1}`)
	expectTooLarge(len(big), `"mx-7"`)
	expectLine(fits)
	expectTooLarge(len(bigTailID), `"mx-8"`)
	expectLine(`{"b":2}`)
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next() at the end = %v, want io.EOF", err)
	}
}

func TestFindID(t *testing.T) {
	for head, want := range map[string]string{
		`{"jsonrpc":"2.0","id":12,"result":{"te`: "12",
		`{"id":"mx-1","resu`:                     `"mx-1"`,
		`{"result":{"id":3,"x":"`:                "",
		`{"jsonrpc":"2.0","id":123`:              "", // the number may go on
		`{"id":null,"method":"x"`:                "",
		`[{"id":1}`:                              "",
	} {
		if got := FindID([]byte(head)); string(got) != want {
			t.Errorf("FindID(%s) = %s, want %q", head, got, want)
		}
	}
	for tail, want := range map[string]string{
		`xxx","jsonrpc":"2.0","id":"mx-3"}`: `"mx-3"`,
		`xx"},"id" : 42 }`:                  "42",
		`x","id":"mx-3"}}`:                  "",
		`x\"id\":\"mx-3\"}"}`:               "",
		`"id":{"a":1}}`:                     "",
	} {
		if got := findTailID([]byte(tail)); string(got) != want {
			t.Errorf("findTailID(%s) = %s, want %q", tail, got, want)
		}
	}
}
