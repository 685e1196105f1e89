package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrNotObject is returned by [Scan] for a value that is not a JSON object.
var ErrNotObject = errors.New("not a JSON object")

// errSyntax is returned by [Scan] for input that is not valid JSON. Scan
// is meant for validated input, so callers only see it for what they did
// not validate (the head of a message too large to read, say).
var errSyntax = errors.New("invalid JSON")

// KeyError is returned by [Scan] for an object whose members could be read
// two ways: two members of the same name, or a member whose name equals a
// routed key only when case is ignored.
type KeyError struct {
	Name string // the member's name, decoded
	Key  string // the routed key Name differs from in case only; "" for a duplicate
}

func (e *KeyError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("duplicate member %q", e.Name)
	}
	return fmt.Sprintf("member %q differs from %q only in case", e.Name, e.Key)
}

// Span is where a member's value lies in the object it was scanned from:
// obj[Start:End]. The zero Span means the member is absent.
type Span struct{ Start, End int }

// Found reports whether the member is present.
func (s Span) Found() bool { return s.End > s.Start }

// In returns the member's raw value in obj, or nil if it is absent. The
// slice's capacity ends with the value, so appending to it copies.
func (s Span) In(obj []byte) json.RawMessage {
	if !s.Found() {
		return nil
	}
	return obj[s.Start:s.End:s.End]
}

// Scan reads the members of obj, a JSON object, in one pass. For each
// name in keys it stores the span of that member's value in the spans
// element of the same index (spans must be at least as long as keys;
// absent members get the zero Span). It fails with a *[KeyError] if two
// members have the same name, or if a member's name is not one of keys but
// equals one when case is ignored (as Go's encoding/json would match it);
// with [ErrNotObject] if obj is not an object.
//
// obj must be valid JSON (see [Valid]): Scan checks only what it
// needs to find its way. On any input it stays in bounds and returns, but
// what it returns for invalid JSON means nothing, except that the spans of
// the members read before the error are set.
func Scan(obj []byte, keys []string, spans []Span) error {
	return scan(obj, keys, spans, false)
}

// scanValid is [Scan] for a line not validated yet: it checks, in the same
// pass, that the line is valid JSON (see [Valid]) up to its end, and fails
// with errSyntax if it is not. A line that it refuses otherwise (not an
// object, a *KeyError) may be invalid JSON too: it stops early.
func scanValid(line []byte, keys []string, spans []Span) error {
	return scan(line, keys, spans, true)
}

func scan(obj []byte, keys []string, spans []Span, validate bool) error {
	clear(spans[:len(keys)])
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return ErrNotObject
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return endObject(obj, i, validate)
	}
	var seen nameSet
	for {
		if i >= len(obj) || obj[i] != '"' {
			return errSyntax
		}
		var end int
		if validate {
			end = validString(obj, i)
		} else {
			end = skipString(obj, i)
		}
		if end < 0 {
			return errSyntax
		}
		name, ok := Unquote(obj[i:end])
		if !ok {
			return errSyntax
		}
		if !seen.add(name) {
			return &KeyError{Name: string(name)}
		}
		match, err := matchKey(name, keys)
		if err != nil {
			return err
		}
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return errSyntax
		}
		start := skipSpace(obj, i+1)
		if validate {
			end = validValue(obj, start, 1)
		} else {
			end = skipValue(obj, start)
		}
		if end < 0 {
			return errSyntax
		}
		i = skipSpace(obj, end)
		if i >= len(obj) {
			return errSyntax // a value must be followed by "," or "}"
		}
		if match >= 0 {
			spans[match] = Span{start, end}
		}
		switch obj[i] {
		case ',':
			i = skipSpace(obj, i+1)
		case '}':
			return endObject(obj, i, validate)
		default:
			return errSyntax
		}
	}
}

// endObject ends a scan at the closing brace obj[i]: when validating,
// nothing but white space may follow it.
func endObject(obj []byte, i int, validate bool) error {
	if validate && skipSpace(obj, i+1) != len(obj) {
		return errSyntax
	}
	return nil
}

// matchKey returns the index of name in keys, or -1; an error if name is
// a case variant of one of them.
func matchKey(name []byte, keys []string) (int, error) {
	for k, key := range keys {
		if string(name) == key {
			return k, nil
		}
	}
	for _, key := range keys {
		if foldEqual(name, key) {
			return -1, &KeyError{Name: string(name), Key: key}
		}
	}
	return -1, nil
}

// foldEqual reports whether name equals key under Unicode case folding,
// which is how encoding/json matches a member to a field ("ſ" folds to
// "s", "K", the Kelvin sign, to "k").
func foldEqual(name []byte, key string) bool {
	ascii := true
	for _, c := range name {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		return strings.EqualFold(string(name), key)
	}
	if len(name) != len(key) {
		return false
	}
	for i, c := range name {
		k := key[i]
		if c == k {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= k && k <= 'Z' {
			k += 'a' - 'A'
		}
		if c != k {
			return false
		}
	}
	return true
}

// nameSet holds the member names an object has shown so far. The first
// few live in an array, so that small objects cost no allocation.
type nameSet struct {
	small [16][]byte
	n     int
	big   map[string]struct{}
}

// add adds name, reporting false if it was there already.
func (s *nameSet) add(name []byte) bool {
	if s.big != nil {
		if _, dup := s.big[string(name)]; dup {
			return false
		}
		s.big[string(name)] = struct{}{}
		return true
	}
	for _, n := range s.small[:s.n] {
		if bytes.Equal(n, name) {
			return false
		}
	}
	if s.n < len(s.small) {
		s.small[s.n] = name
		s.n++
		return true
	}
	s.big = make(map[string]struct{}, 2*len(s.small))
	for _, n := range s.small {
		s.big[string(n)] = struct{}{}
	}
	s.big[string(name)] = struct{}{}
	return true
}

// skipSpace returns the index of the first byte from b[i] that is not
// JSON white space. Every white space byte is at most ' ', which most
// bytes are not: one comparison decides for them.
func skipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the value that starts at b[i], or
// -1 if there is none.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		return skipContainer(b, i)
	}
	j := i
	for j < len(b) && !isDelim(b[j]) {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ':', ' ', '\t', '\n', '\r', '{', '[', '"':
		return true
	}
	return false
}

// skipString returns the index just past the string whose opening quote
// is b[i], or -1 if it does not end.
func skipString(b []byte, i int) int {
	j := i + 1
	for j <= len(b) {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		backslashes := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
	return -1
}

// skipContainer returns the index just past the object or array that
// starts at b[i], or -1 if it does not end.
func skipContainer(b []byte, i int) int {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			end := skipString(b, j)
			if end < 0 {
				return -1
			}
			j = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return -1
}

// Unquote returns the text of the raw JSON string raw, quotes included:
// a slice of raw itself when it holds no escape (the usual case, which
// costs nothing), decoded otherwise. ok is false if raw is not a string.
// Invalid UTF-8 decodes to U+FFFD, as encoding/json decodes it.
func Unquote(raw []byte) (text []byte, ok bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	inner := raw[1 : len(raw)-1]
	if plain(inner) {
		return inner, true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, false
	}
	return []byte(s), true
}

// String returns the text of the raw JSON string raw; ok is false if raw
// is not a string.
func String(raw []byte) (string, bool) {
	text, ok := Unquote(raw)
	return string(text), ok
}

// plain reports whether the inside of a JSON string means itself: no
// escape, no quote, no control character, valid UTF-8.
func plain(s []byte) bool {
	for i, c := range s {
		switch {
		case c < 0x20 || c == '"' || c == '\\':
			return false
		case c >= utf8.RuneSelf:
			return plainUnicode(s[i:])
		}
	}
	return true
}

func plainUnicode(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.Valid(s)
}

// Member returns the raw value of key among the members of obj, a valid
// JSON object, with [Scan]'s checks for key alone.
func Member(obj []byte, key string) (json.RawMessage, error) {
	var sp [1]Span
	keys := [1]string{key}
	if err := Scan(obj, keys[:], sp[:]); err != nil {
		return nil, err
	}
	return sp[0].In(obj), nil
}

// StringMember returns the string value of key in obj, a valid JSON
// object; ok is false if the member is absent, is not a string, or obj
// fails [Scan]'s checks.
func StringMember(obj []byte, key string) (string, bool) {
	v, err := Member(obj, key)
	if err != nil || v == nil {
		return "", false
	}
	return String(v)
}

// ErrNotArray is returned by [Elements] for a value that is not a JSON
// array.
var ErrNotArray = errors.New("not a JSON array")

// Elements returns the elements of arr, a JSON array, as slices of it,
// without white space around them. Like [Scan], it is meant for valid JSON
// (a message that [Decode] accepted): it checks only what it needs to find
// its way.
func Elements(arr []byte) ([]json.RawMessage, error) {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return nil, ErrNotArray
	}
	i = skipSpace(arr, i+1)
	if i < len(arr) && arr[i] == ']' {
		return nil, nil
	}
	var out []json.RawMessage
	for {
		end := skipValue(arr, i)
		if end < 0 {
			return nil, errSyntax
		}
		out = append(out, arr[i:end:end])
		i = skipSpace(arr, end)
		switch {
		case i < len(arr) && arr[i] == ',':
			i = skipSpace(arr, i+1)
		case i < len(arr) && arr[i] == ']':
			return out, nil
		default:
			return nil, errSyntax
		}
	}
}
