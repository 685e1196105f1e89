package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// The seeds hold what a hostile peer tries: duplicate members, case
// variants (ASCII, and the Unicode ones encoding/json folds), escaped
// names, and integers beyond float64's precision.
var scanSeeds = []string{
	`{"name":"ev__echo","arguments":{"message":"hi"}}`,
	`{"name":"ev__echo","name":"get-env"}`,
	`{"name":"ev__echo","NAME":"get-env"}`,
	`{"name":"ev__echo","Name":"get-env","arguments":{}}`,
	`{"na\u006de":"get-env"}`,
	`{"name":"a","_meta":{"progressToken":1,"progressToken":2}}`,
	`{"_meta":{"progreſſToken":1},"name":"x"}`,
	`{"_meta":{"progressToKen":1}}`,
	`{"name":9007199254740993,"_meta":{"progressToken":9007199254740993}}`,
	`{"name":"\ud83d\ude80","x":[{"name":"inner"}]}`,
	`{ "name" : "a" , "_meta" : { } }`,
	`[]`, `null`, `"name"`, `{}`,
}

// FuzzScan checks the scanner against encoding/json, which Go upstreams
// decode with: whenever Scan accepts an object, the value it finds for a
// routed key is the one encoding/json (case-insensitive, last duplicate
// wins) and a case-sensitive decoder (JavaScript's) would find, and Set
// makes both see exactly the new value.
func FuzzScan(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		var sp [3]Span
		keys := []string{"name", "_meta", "progressToken"}
		err := Scan(obj, keys, sp[:])
		if !json.Valid(obj) {
			return // Scan's contract covers valid JSON only; it must merely return
		}
		var ke *KeyError
		switch {
		case errors.Is(err, ErrNotObject):
			if Kind(obj) == "an object" {
				t.Fatalf("Scan(%s) = not an object", obj)
			}
			return
		case errors.As(err, &ke):
			return // refused: nothing reaches an upstream
		case err != nil:
			t.Fatalf("Scan(valid %s) = %v", obj, err)
		}
		var exact map[string]json.RawMessage
		if err := json.Unmarshal(obj, &exact); err != nil {
			t.Fatalf("encoding/json cannot decode %s as an object: %v", obj, err)
		}
		var folded struct {
			Name  json.RawMessage `json:"name"`
			Meta  json.RawMessage `json:"_meta"`
			Token json.RawMessage `json:"progressToken"`
		}
		_ = json.Unmarshal(obj, &folded)
		for i, got := range []json.RawMessage{folded.Name, folded.Meta, folded.Token} {
			found := sp[i].In(obj)
			if !bytes.Equal(found, exact[keys[i]]) {
				t.Fatalf("Scan(%s) finds %s = %s; a case-sensitive decoder finds %s", obj, keys[i], found, exact[keys[i]])
			}
			if !bytes.Equal(found, got) {
				t.Fatalf("Scan(%s) finds %s = %s; encoding/json finds %s", obj, keys[i], found, got)
			}
		}
		out, err := Set(obj, "name", Quote("resolved"))
		if err != nil {
			t.Fatalf("Set(%s) = %v after Scan accepted it", obj, err)
		}
		if !json.Valid(out) {
			t.Fatalf("Set(%s) = %s, not valid JSON", obj, out)
		}
		folded.Name, exact = nil, nil
		_ = json.Unmarshal(out, &folded)
		_ = json.Unmarshal(out, &exact)
		if string(folded.Name) != `"resolved"` || string(exact["name"]) != `"resolved"` {
			t.Fatalf("after Set(%s, name): encoding/json sees %s, a case-sensitive decoder %s", obj, folded.Name, exact["name"])
		}
	})
}

// FuzzDecode checks that Decode never fails on a message it encoded
// itself, that what it accepts survives encoding byte for byte, and that
// it reports a parse error for exactly what json.Valid refuses.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":9007199254740993,"method":"initialize","params":{}}`,
		`{"jsonrpc":"2.0","id":"a","method":"m","method":"n"}`,
		`{"jsonrpc":"2.0","ID":1,"method":"m"}`,
		`{"jsonrpc":"2.0","id":null,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":{},"method":"ping"}`,
		`{"jsonrpc":"2.0","id":"mx-1","result":{"x":1}}`,
		`{"jsonrpc":"2.0","id":"mx-1","error":{"code":-1,"message":"m","data":[1]}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, `{}`, `null`, `{"jsonrpc":"1.0"}`,
		`{"jsonrpc":"2.0","id":1,"method":"m","method":"n",}`, `{"jsonrpc":"2.0","id":1,"method":"m"} x`,
		`{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":[1,]}}`, `[1,]`, `{"jsonrpc":"2.0"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := Decode(line)
		if parseErr := err != nil && err.Code == CodeParseError; parseErr == json.Valid(line) {
			t.Fatalf("Decode(%q) = %v; json.Valid = %v", line, err, json.Valid(line))
		}
		if err != nil {
			if err.Code != CodeParseError && err.Code != CodeInvalidRequest {
				t.Fatalf("Decode(%s) error code %d", line, err.Code)
			}
			if m.ID != nil && usableID(m.ID) == nil && string(m.ID) != "null" {
				t.Fatalf("Decode(%s) keeps an unusable id %s", line, m.ID)
			}
			return
		}
		var out []byte
		switch {
		case m.IsRequest():
			out = AppendRequest(nil, m.ID, m.Method, m.Params)
		case m.IsNotification():
			out = AppendNotification(nil, m.Method, m.Params)
		case m.Error != nil:
			out = AppendError(nil, m.ID, m.Error)
		default:
			out = AppendResult(nil, m.ID, m.Result)
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("Decode(%s) = %v, of what Decode(%s) gave", out, err, line)
		}
		if !sameMessage(compacted(m), compacted(again)) {
			t.Fatalf("Decode(%s) = %+v, re-encoded and decoded %+v", line, m, again)
		}
	})
}

// compacted returns m with its raw values compacted, as the encoders
// compact values with line breaks.
func compacted(m Message) Message {
	c := func(v json.RawMessage) json.RawMessage {
		if v == nil || (bytes.IndexByte(v, '\n') < 0 && bytes.IndexByte(v, '\r') < 0) {
			return v
		}
		var b bytes.Buffer
		_ = json.Compact(&b, v)
		return b.Bytes()
	}
	m.ID, m.Params, m.Result = c(m.ID), c(m.Params), c(m.Result)
	if m.Error != nil {
		e := *m.Error
		e.Data = c(e.Data)
		m.Error = &e
	}
	return m
}

// FuzzQuote checks AppendQuote against encoding/json.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c", "<&>", "\x00\x1f\u2028", "bad\xff", "é🚀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(Quote(s)), encoderQuote(s); got != want {
			t.Fatalf("Quote(%q) = %s, want %s", s, got, want)
		}
	})
}
