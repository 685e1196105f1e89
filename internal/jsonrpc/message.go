package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// Message is one JSON-RPC message: a request (Method and ID), a
// notification (Method, no ID) or a response (ID, and Result or Error).
// Its raw fields are slices of the line it was decoded from.
type Message struct {
	// ID is the raw id, a JSON string or number exactly as sent; nil if
	// absent. A response to a request whose id could not be read has the
	// id null.
	ID json.RawMessage
	// Method is a request's or notification's method; "" for a response.
	Method string
	// Params are the raw params, an object or an array; nil if absent or
	// null.
	Params json.RawMessage
	// Result is a response's raw result; nil otherwise.
	Result json.RawMessage
	// Error is a response's error; nil otherwise.
	Error *Error

	reply bool // it has a result or an error member: it is a response
}

// IsRequest reports whether m is a request, which wants a response.
func (m *Message) IsRequest() bool { return m.Method != "" && m.ID != nil }

// IsNotification reports whether m is a notification.
func (m *Message) IsNotification() bool { return m.Method != "" && m.ID == nil }

// IsResponse reports whether m is a response, or, if [Decode] refused
// it, whether it was meant as one: a message with a result or an error
// and no method, which JSON-RPC never answers.
func (m *Message) IsResponse() bool { return m.Method == "" && m.reply }

var envelopeKeys = []string{"jsonrpc", "id", "method", "params", "result", "error"}

const (
	keyJSONRPC = iota
	keyID
	keyMethod
	keyParams
	keyResult
	keyError
)

// Decode decodes one message and checks it as JSON-RPC 2.0 demands. It
// fails with a parse error (-32700) for a line that is not JSON, and with
// an invalid request (-32600) for one that is not a JSON-RPC 2.0 message:
// not an object (a batch among them: MCP has none), "jsonrpc" other than
// "2.0", an id that is neither a string nor a number (or null in a
// request), a method that is not a string, params that are neither an
// object nor an array, a response without exactly one of result and
// error, an error object without an integer code and a string message,
// or members that [Scan] refuses. On failure the returned Message still
// carries the id, if there is a usable one to answer with, and tells
// [Message.IsResponse].
func Decode(line []byte) (Message, *Error) {
	var sp [6]Span
	if err := scanValid(line, envelopeKeys, sp[:]); err != nil {
		if !Valid(line) { // scanValid stops at what it refuses first
			return Message{}, Errorf(CodeParseError, "parse error: the message is not valid JSON")
		}
		return Message{}, invalidObject(line, err)
	}
	var m Message
	m.reply = sp[keyResult].Found() || sp[keyError].Found()
	idErr := m.decodeID(sp[keyID].In(line))
	switch {
	case !bytes.Equal(sp[keyJSONRPC].In(line), []byte(`"2.0"`)) && !isVersion(sp[keyJSONRPC].In(line)):
		return m, invalid(`"jsonrpc" must be "2.0"`)
	case idErr != nil:
		return m, idErr
	case sp[keyMethod].Found():
		return m, m.decodeCall(line, sp[:])
	}
	return m, m.decodeResponse(line, sp[:])
}

func invalid(msg string) *Error {
	return &Error{Code: CodeInvalidRequest, Message: "invalid request: " + msg}
}

// invalidObject explains why Scan refused a message.
func invalidObject(line []byte, err error) *Error {
	var ke *KeyError
	switch {
	case errors.As(err, &ke):
		return invalid(ke.Error())
	case !errors.Is(err, ErrNotObject):
		return invalid(err.Error())
	}
	switch kind := Kind(line); kind {
	case "an array":
		return invalid("batches are not supported; send one message per line")
	default:
		return invalid("a message must be a JSON object, got " + kind)
	}
}

// isVersion reports whether raw is the string "2.0", however escaped.
func isVersion(raw []byte) bool {
	s, ok := String(raw)
	return ok && s == Version
}

// decodeID keeps a usable id: a string or a number. null is kept as null
// for Decode to judge; anything else is an error.
func (m *Message) decodeID(id []byte) *Error {
	if id == nil {
		return nil
	}
	switch c := id[0]; {
	case c == '"' || c == '-' || ('0' <= c && c <= '9'):
		m.ID = id
	case c == 'n':
		m.ID = id
	default:
		return invalid("the id must be a string or a number, got " + Kind(id))
	}
	return nil
}

// decodeCall decodes a request or a notification.
func (m *Message) decodeCall(line []byte, sp []Span) *Error {
	method, ok := methodName(sp[keyMethod].In(line))
	switch {
	case !ok:
		return m.unusable(invalid("the method must be a string"))
	case method == "":
		return m.unusable(invalid("the method must not be empty"))
	case m.reply:
		return m.unusable(invalid("a request has no result or error"))
	case string(m.ID) == "null":
		m.ID = nil
		return invalid("a request's id must not be null; leave it out for a notification")
	}
	m.Method = method
	switch p := sp[keyParams].In(line); {
	case p == nil || string(p) == "null":
	case p[0] == '{' || p[0] == '[':
		m.Params = p
	default:
		m.Method = ""
		return m.unusable(invalid("params must be an object or an array, got " + Kind(p)))
	}
	return nil
}

// unusable drops a null id, which cannot be answered to.
func (m *Message) unusable(err *Error) *Error {
	if string(m.ID) == "null" {
		m.ID = nil
	}
	return err
}

// decodeResponse decodes a response.
func (m *Message) decodeResponse(line []byte, sp []Span) *Error {
	switch {
	case !m.reply:
		return m.unusable(invalid("a message needs a method, or a result or an error"))
	case sp[keyResult].Found() && sp[keyError].Found():
		return m.unusable(invalid("a response has a result or an error, not both"))
	case m.ID == nil:
		return invalid("a response needs an id")
	case sp[keyResult].Found():
		if string(m.ID) == "null" {
			m.ID = nil
			return invalid("a result's id must not be null")
		}
		m.Result = sp[keyResult].In(line)
		return nil
	}
	e, err := decodeError(sp[keyError].In(line))
	if err != nil {
		return err
	}
	m.Error = e
	return nil
}

var errorKeys = []string{"code", "message", "data"}

// decodeError decodes an error object.
func decodeError(raw []byte) (*Error, *Error) {
	var sp [3]Span
	if err := Scan(raw, errorKeys, sp[:]); err != nil {
		if errors.Is(err, ErrNotObject) {
			return nil, invalid("the error must be an object, got " + Kind(raw))
		}
		return nil, invalid("error object: " + err.Error())
	}
	code, err := strconv.ParseInt(string(sp[0].In(raw)), 10, 32)
	if err != nil {
		return nil, invalid("the error's code must be an integer")
	}
	msg, ok := String(sp[1].In(raw))
	if !ok {
		return nil, invalid("the error's message must be a string")
	}
	e := &Error{Code: int(code), Message: msg}
	if d := sp[2].In(raw); d != nil && string(d) != "null" {
		e.Data = d
	}
	return e, nil
}

// Kind describes the JSON value v, with an article: "an object", "a
// string", "null", and so on.
func Kind(v []byte) string {
	v = bytes.TrimLeft(v, " \t\r\n")
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// methods are MCP's method names, so that decoding one costs no
// allocation: every message has one, and nearly all are among these.
var methods = func() map[string]string {
	m := map[string]string{}
	for _, name := range []string{
		"initialize", "ping", "tools/list", "tools/call", "prompts/list", "prompts/get",
		"resources/list", "resources/templates/list", "resources/read", "resources/subscribe",
		"resources/unsubscribe", "completion/complete", "logging/setLevel", "server/discover",
		"subscriptions/listen", "sampling/createMessage", "elicitation/create", "roots/list",
		"notifications/initialized", "notifications/cancelled", "notifications/progress",
		"notifications/message", "notifications/resources/updated", "notifications/roots/list_changed",
		"notifications/tools/list_changed", "notifications/prompts/list_changed",
		"notifications/resources/list_changed", "notifications/elicitation/complete",
	} {
		m[name] = name
	}
	return m
}()

// methodName is String for a method: a known one is not copied.
func methodName(raw []byte) (string, bool) {
	text, ok := Unquote(raw)
	if !ok {
		return "", false
	}
	if name, known := methods[string(text)]; known {
		return name, true
	}
	return string(text), true
}
