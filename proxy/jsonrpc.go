package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// JSON-RPC error codes mcpmux answers with. The -32000 range is reserved by
// JSON-RPC for implementation-defined server errors.
const (
	codeParseError       = -32700
	codeInvalidParams    = -32602
	codeInternalError    = -32603
	codeUnavailable      = -32000 // the upstream is not connected, or was lost
	codeUpstreamTimeout  = -32001 // the upstream did not answer in time
	codeResourceNotFound = -32002 // MCP's code for an unknown resource
)

// rpcError is an error the client receives as a JSON-RPC error object.
type rpcError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *rpcError) Error() string { return e.Message }

func errorf(code int, format string, args ...any) *rpcError {
	return &rpcError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// envelope is the part of a JSON-RPC message needed to route it.
type envelope struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// isNull reports whether a raw JSON value is absent or null.
func isNull(v json.RawMessage) bool {
	return len(v) == 0 || string(v) == "null"
}

// resultMessage returns the response to request id with a raw result.
func resultMessage(id, result json.RawMessage) []byte {
	var b bytes.Buffer
	b.Grow(len(result) + len(id) + 40)
	b.WriteString(`{"jsonrpc":"2.0","id":`)
	b.Write(id)
	b.WriteString(`,"result":`)
	b.Write(result)
	b.WriteString("}")
	return b.Bytes()
}

// errorMessage returns the error response to request id.
func errorMessage(id json.RawMessage, e *rpcError) []byte {
	if isNull(id) {
		id = json.RawMessage("null")
	}
	body, _ := json.Marshal(e)
	var b bytes.Buffer
	b.WriteString(`{"jsonrpc":"2.0","id":`)
	b.Write(id)
	b.WriteString(`,"error":`)
	b.Write(body)
	b.WriteString("}")
	return b.Bytes()
}

// notificationMessage returns a notification with raw params (nil: none).
func notificationMessage(method string, params json.RawMessage) []byte {
	m, _ := json.Marshal(method)
	var b bytes.Buffer
	b.WriteString(`{"jsonrpc":"2.0","method":`)
	b.Write(m)
	if !isNull(params) {
		b.WriteString(`,"params":`)
		b.Write(params)
	}
	b.WriteString("}")
	return b.Bytes()
}

var errNotObject = errors.New("not a JSON object")

// member finds the value of key among the top-level members of a JSON
// object and returns its byte span, or ok == false if there is none.
func member(obj json.RawMessage, key string) (start, end int, ok bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0, 0, false, errNotObject
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return 0, 0, false, err
		}
		k, _ := tok.(string)
		start = valueStart(obj, int(dec.InputOffset()))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return 0, 0, false, err
		}
		if k == key {
			return start, int(dec.InputOffset()), true, nil
		}
	}
	return 0, 0, false, nil
}

// valueStart skips the colon and white space that follow a member's key.
func valueStart(b []byte, i int) int {
	for i < len(b) && (b[i] == ':' || b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// memberValue returns the raw value of key in obj.
func memberValue(obj json.RawMessage, key string) (json.RawMessage, bool) {
	start, end, ok, err := member(obj, key)
	if err != nil || !ok {
		return nil, false
	}
	return obj[start:end], true
}

// stringMember returns the string value of key in obj.
func stringMember(obj json.RawMessage, key string) (string, bool) {
	v, ok := memberValue(obj, key)
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

// withString returns obj with the value of its member key replaced by the
// string value, every other byte unchanged. If obj has no such member, it
// is added first.
func withString(obj json.RawMessage, key, value string) (json.RawMessage, error) {
	return withMember(obj, key, quote(value))
}

// withMember returns obj with the value of its member key replaced by the
// raw value v, every other byte unchanged; added first if there is none.
func withMember(obj json.RawMessage, key string, v json.RawMessage) (json.RawMessage, error) {
	start, end, ok, err := member(obj, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return insertMember(obj, key, v), nil
	}
	out := make([]byte, 0, len(obj)-(end-start)+len(v))
	out = append(out, obj[:start]...)
	out = append(out, v...)
	return append(out, obj[end:]...), nil
}

// insertMember adds "key":value as the first member of obj.
func insertMember(obj json.RawMessage, key string, value []byte) json.RawMessage {
	i := bytes.IndexByte(obj, '{') + 1
	out := make([]byte, 0, len(obj)+len(key)+len(value)+4)
	out = append(out, obj[:i]...)
	out = append(out, quote(key)...)
	out = append(out, ':')
	out = append(out, value...)
	if rest := bytes.TrimSpace(obj[i:]); len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, obj[i:]...)
}

// quote returns s as a JSON string, without escaping HTML characters.
func quote(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimRight(b.Bytes(), "\n")
}
