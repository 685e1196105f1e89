package jsonrpc

import (
	"encoding/json"
	"strings"
	"testing"
)

// validSeeds are JSON texts at the edges of the grammar, valid and not.
var validSeeds = []string{
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a__echo","arguments":{"message":"hi"}}}`,
	`{}`, `[]`, `{ }`, `[ ]`, ` {"a" : [ 1 , 2 ] } `, "\t\r\n1\n",
	`"plain"`, `"esc \" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDE80"`, `"\u12"`, `"\u12g4"`, `"\x"`, "\"tab\t\"", `"open`,
	"\"bad utf-8 \xff\xfe\"", "\"\x7f\"",
	`0`, `-0`, `01`, `-`, `1.`, `.5`, `1.5e10`, `1E+2`, `1e-2`, `1e`, `1e+`, `-01`, `2.5E`, `123456789012345678901234567890`,
	`true`, `false`, `null`, `tru`, `nul`, `truex`, `True`, `nan`,
	`{"a":1,}`, `[1,]`, `{"a"}`, `{"a":}`, `{1:2}`, `{"a":1 "b":2}`, `[1 2]`, `[}`, `{]`, `[[]]]`, `[[]`,
	`1 2`, `{} {}`, ``, ` `, `{"a":{"b":{"c":[{"d":null}]}}}`, `["a""b"]`, `{"a":1}x`,
}

func TestValidAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range validSeeds {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%q) = %v, want %v (json.Valid)", s, got, want)
		}
	}
}

// TestValidDepth checks encoding/json's nesting limit, 10,000 levels,
// in arrays, objects and both.
func TestValidDepth(t *testing.T) {
	for _, depth := range []int{63, 64, 65, 127, 128, 129, maxDepth, maxDepth + 1} {
		for name, open := range map[string]string{"arrays": "[", "objects": `{"k":`, "both": `[{"k":`} {
			closeOf := map[string]string{"[": "]", `{"k":`: "}", `[{"k":`: "}]"}[open]
			n := depth
			if name == "both" {
				n = depth / 2
			}
			s := strings.Repeat(open, n) + "1" + strings.Repeat(closeOf, n)
			if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
				t.Errorf("Valid(%d levels of %s) = %v, want %v (json.Valid)", n, name, got, want)
			}
		}
	}
}

// FuzzValid checks that Valid answers as json.Valid does, on any input.
func FuzzValid(f *testing.F) {
	for _, s := range validSeeds {
		f.Add([]byte(s))
	}
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := Valid(data), json.Valid(data); got != want {
			t.Fatalf("Valid(%q) = %v, want %v (json.Valid)", data, got, want)
		}
	})
}

// BenchmarkValid measures Valid and json.Valid on a tools/call and on a
// result with a long text, as mcpmux checks every message it reads.
func BenchmarkValid(b *testing.B) {
	inputs := map[string][]byte{
		"call":   []byte(`{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"a__echo","arguments":{"message":"hello"},"_meta":{"progressToken":"p-17"}}}`),
		"result": []byte(`{"jsonrpc":"2.0","id":17,"result":{"content":[{"type":"text","text":"` + strings.Repeat("Echo: hello, world. ", 50) + `"}],"structuredContent":{"n":1.5e3,"ok":true,"v":null}}}`),
	}
	for name, in := range inputs {
		b.Run(name+"/jsonrpc", func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				Valid(in)
			}
		})
		b.Run(name+"/encoding-json", func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				json.Valid(in)
			}
		})
	}
}
