package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestScan(t *testing.T) {
	keys := []string{"name", "_meta", "progressToken"}
	tests := []struct {
		name string
		obj  string
		want []string // raw values of keys; "" for absent
		err  string   // substring of the error; "" for none
	}{
		{name: "empty", obj: `{}`, want: []string{"", "", ""}},
		{name: "white space", obj: " \t{ \n} ", want: []string{"", "", ""}},
		{name: "one", obj: `{"name":"echo"}`, want: []string{`"echo"`, "", ""}},
		{name: "all", obj: `{"arguments":{"name":"x","_meta":1},"name" : "echo" ,"_meta":{"progressToken":7},"progressToken":[1,"]"]}`,
			want: []string{`"echo"`, `{"progressToken":7}`, `[1,"]"]`}},
		{name: "escaped quote in string", obj: `{"a":"x\"}\\","name":"n"}`, want: []string{`"n"`, "", ""}},
		{name: "escaped key", obj: `{"na\u006de":"get-env"}`, want: []string{`"get-env"`, "", ""}},
		{name: "numbers and literals", obj: `{"a":-1.5e3,"b":true,"c":null,"name":12}`, want: []string{"12", "", ""}},
		{name: "nested brackets in strings", obj: `{"a":{"b":"}}]]"},"name":"n"}`, want: []string{`"n"`, "", ""}},

		{name: "duplicate routed key", obj: `{"name":"ev__echo","name":"get-env"}`, err: `duplicate member "name"`},
		{name: "duplicate other key", obj: `{"arguments":{},"name":"a","arguments":{}}`, err: `duplicate member "arguments"`},
		{name: "duplicate through an escape", obj: `{"name":"a","n\u0061me":"b"}`, err: `duplicate member "name"`},
		{name: "upper case", obj: `{"name":"ev__echo","NAME":"get-env"}`, err: `member "NAME" differs from "name" only in case`},
		{name: "upper case alone", obj: `{"Name":"get-env"}`, err: `member "Name" differs from "name"`},
		{name: "long s folds to s", obj: `{"progreſſToken":1}`, err: `differs from "progressToken" only in case`},
		{name: "kelvin sign folds to k", obj: `{"progressToKen":1}`, err: `differs from "progressToken" only in case`},
		{name: "case variant of meta", obj: `{"_META":{}}`, err: `differs from "_meta"`},
		{name: "case variants of other keys pass", obj: `{"Arguments":{},"arguments":{}}`, want: []string{"", "", ""}},

		{name: "array", obj: `[{"name":"x"}]`, err: "not a JSON object"},
		{name: "string", obj: `"name"`, err: "not a JSON object"},
		{name: "null", obj: `null`, err: "not a JSON object"},
		{name: "nothing", obj: ``, err: "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spans := make([]Span, len(keys))
			err := Scan([]byte(tt.obj), keys, spans)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Scan(%s) = %v, want an error with %q", tt.obj, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Scan(%s) = %v", tt.obj, err)
			}
			for i, s := range spans {
				if got := string(s.In([]byte(tt.obj))); got != tt.want[i] {
					t.Errorf("Scan(%s): %s = %q, want %q", tt.obj, keys[i], got, tt.want[i])
				}
			}
		})
	}
}

func TestScanManyMembers(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 100 {
		b.WriteString(`"k` + strings.Repeat("x", i) + `":1,`)
	}
	b.WriteString(`"name":"n"}`)
	obj := []byte(b.String())
	v, err := Member(obj, "name")
	if err != nil || string(v) != `"n"` {
		t.Fatalf("Member(100 members) = %s, %v", v, err)
	}
	dup := append(bytes.TrimSuffix(obj, []byte("}")), []byte(`,"kxxxxx":2}`)...)
	var ke *KeyError
	if _, err := Member(dup, "name"); !errors.As(err, &ke) || ke.Name != "kxxxxx" {
		t.Fatalf("Member(duplicate beyond 16 members) = %v, want a KeyError for kxxxxx", err)
	}
}

func TestScanAllocates(t *testing.T) {
	obj := []byte(`{"name":"a__echo","arguments":{"message":"hello","n":[1,2,{"x":"y"}]},"_meta":{"progressToken":3}}`)
	keys := []string{"name", "_meta"}
	var sp [2]Span
	if n := testing.AllocsPerRun(100, func() { _ = Scan(obj, keys, sp[:]) }); n != 0 {
		t.Errorf("Scan allocates %v times per run, want 0", n)
	}
}

func TestUnquote(t *testing.T) {
	for raw, want := range map[string]string{
		`"plain"`:        "plain",
		`"é ✓"`:          "é ✓",
		`"a\"b"`:         `a"b`,
		`"\u0041\n"`:     "A\n",
		"\"bad \xff\"":   "bad \uFFFD",
		`"\ud83d\ude80"`: "🚀",
	} {
		got, ok := String([]byte(raw))
		if !ok || got != want {
			t.Errorf("String(%s) = %q, %v; want %q", raw, got, ok, want)
		}
	}
	for _, raw := range []string{`1`, `"`, `null`, `{"a":1}`, ``} {
		if got, ok := String([]byte(raw)); ok {
			t.Errorf("String(%s) = %q, true; want false", raw, got)
		}
	}
}

func TestSet(t *testing.T) {
	tests := []struct{ obj, want string }{
		{`{"name":"a__echo","arguments":{}}`, `{"name":"echo","arguments":{}}`},
		{`{ "arguments" : {"name":"x"}, "name" : "a__echo" }`, `{ "arguments" : {"name":"x"}, "name" : "echo" }`},
		{`{}`, `{"name":"echo"}`},
		{` { } `, ` {"name":"echo" } `},
		{`{"arguments":{}}`, `{"name":"echo","arguments":{}}`},
	}
	for _, tt := range tests {
		got, err := Set([]byte(tt.obj), "name", Quote("echo"))
		if err != nil || string(got) != tt.want {
			t.Errorf("Set(%s) = %s, %v; want %s", tt.obj, got, err, tt.want)
		}
	}
	if _, err := Set([]byte(`{"name":"a","name":"b"}`), "name", Quote("x")); err == nil {
		t.Error("Set of a duplicate member succeeded")
	}
}

func TestQuoteMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `a"b\c`, "<&>", "\x00\x01\x1f\b\f\n\r\t", "é ✓ 🚀", "bad \xff\xfe end", "\u2028\u2029", "\x7f"} {
		if got, want := string(Quote(s)), encoderQuote(s); got != want {
			t.Errorf("Quote(%q) = %s, want %s", s, got, want)
		}
	}
}

// encoderQuote is how encoding/json writes s without escaping HTML.
func encoderQuote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func TestReplaceString(t *testing.T) {
	obj := []byte(`{"name":"a__echo","arguments":{"x":1}}`)
	var sp [1]Span
	if err := Scan(obj, []string{"name"}, sp[:]); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"echo", "", "é\"\\\n<>", "\u2028"} {
		got, want := ReplaceString(obj, sp[0], s), Replace(obj, sp[0], Quote(s))
		if string(got) != string(want) {
			t.Errorf("ReplaceString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestElements(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
		err  bool
	}{
		{`[]`, nil, false},
		{` [ ] `, nil, false},
		{`[1]`, []string{`1`}, false},
		{`[ {"a":[1,"]"]} , "x\"]" ,null,[[]], -1.5e3 ]`, []string{`{"a":[1,"]"]}`, `"x\"]"`, `null`, `[[]]`, `-1.5e3`}, false},
		{`{}`, nil, true},
		{`"[1]"`, nil, true},
		{`[1`, nil, true},
	} {
		got, err := Elements([]byte(tt.in))
		if (err != nil) != tt.err {
			t.Errorf("Elements(%s) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		var gotS []string
		for _, e := range got {
			gotS = append(gotS, string(e))
		}
		if strings.Join(gotS, "|") != strings.Join(tt.want, "|") {
			t.Errorf("Elements(%s) = %q, want %q", tt.in, gotS, tt.want)
		}
	}
}
