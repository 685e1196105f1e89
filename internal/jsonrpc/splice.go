package jsonrpc

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Replace returns obj with the value at s replaced by v, every other byte
// unchanged, in a new slice.
func Replace(obj []byte, s Span, v []byte) json.RawMessage {
	out := make([]byte, 0, len(obj)-(s.End-s.Start)+len(v))
	out = append(out, obj[:s.Start]...)
	out = append(out, v...)
	return append(out, obj[s.End:]...)
}

// Insert returns obj, a JSON object, with "key":v added as its first
// member, every other byte unchanged, in a new slice.
func Insert(obj []byte, key string, v []byte) json.RawMessage {
	i := bytes.IndexByte(obj, '{') + 1
	out := make([]byte, 0, len(obj)+len(key)+len(v)+4)
	out = append(out, obj[:i]...)
	out = AppendQuote(out, key)
	out = append(out, ':')
	out = append(out, v...)
	if rest := bytes.TrimSpace(obj[i:]); len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, obj[i:]...)
}

// Set returns obj, a valid JSON object, with the value of its member key
// replaced by the raw value v, or with "key":v added first if it has no
// such member; every other byte is unchanged. It fails as [Scan] does.
func Set(obj []byte, key string, v []byte) (json.RawMessage, error) {
	var sp [1]Span
	keys := [1]string{key}
	if err := Scan(obj, keys[:], sp[:]); err != nil {
		return nil, err
	}
	if !sp[0].Found() {
		return Insert(obj, key, v), nil
	}
	return Replace(obj, sp[0], v), nil
}

// Quote returns s as a JSON string, as encoding/json writes it without
// escaping HTML characters.
func Quote(s string) []byte { return AppendQuote(nil, s) }

const hex = "0123456789abcdef"

// AppendQuote appends s as a JSON string to dst, as encoding/json writes
// it without escaping HTML characters: invalid UTF-8 becomes U+FFFD, and
// U+2028 and U+2029 are escaped.
func AppendQuote(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// ReplaceString is Replace with v the JSON string of s, in one allocation.
func ReplaceString(obj []byte, sp Span, s string) json.RawMessage {
	out := make([]byte, 0, len(obj)-(sp.End-sp.Start)+len(s)+2)
	out = append(out, obj[:sp.Start]...)
	out = AppendQuote(out, s)
	return append(out, obj[sp.End:]...)
}
