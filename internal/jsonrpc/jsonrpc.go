// Package jsonrpc is mcpmux's JSON-RPC 2.0 wire format, after go-sdk's
// internal/jsonrpc2: the [Message] every side speaks, with its id, params
// and result kept raw so that they travel byte for byte; the one [Error]
// type of the wire's error object; the encoders ([AppendRequest] and its
// kin); the newline-delimited [Reader] with its bound on a message's size;
// and [Scan], the member scanner and splicer that the proxy routes by.
//
// Every byte it reads is hostile until checked. [Decode] accepts only what
// JSON-RPC 2.0 allows, and [Scan] refuses an object with two members of one
// name, or a member whose name matches a routed key only when case is
// ignored: peers disagree on which of two duplicates counts (the first,
// the last) and on case (Go's encoding/json ignores it), so such an object
// would mean one thing to mcpmux and another to the upstream.
package jsonrpc

import (
	"encoding/json"
	"fmt"
)

// Version is the only JSON-RPC version there is.
const Version = "2.0"

// Error codes of JSON-RPC 2.0, and those mcpmux adds in the range that
// JSON-RPC reserves for implementation-defined server errors.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternalError  = -32603

	CodeUnavailable      = -32000 // the upstream is not connected, or was lost
	CodeUpstreamTimeout  = -32001 // the upstream did not answer in time
	CodeResourceNotFound = -32002 // MCP's code for an unknown resource
	CodeBusy             = -32003 // too many requests in flight; refused at once
)

// Error is a JSON-RPC error object: what a peer answered a request with,
// or what mcpmux answers one with. It is also a Go error, whose text is
// the message alone.
type Error struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"` // nil if none
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an Error with code and a formatted message.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// IsNull reports whether a raw JSON value is absent or null.
func IsNull(v json.RawMessage) bool {
	return len(v) == 0 || string(v) == "null"
}
