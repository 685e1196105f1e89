package main

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// JSON-RPC and MCP error codes used by the server.
const (
	codeParseError       = -32700
	codeInvalidRequest   = -32600
	codeMethodNotFound   = -32601
	codeInvalidParams    = -32602
	codeInternalError    = -32603
	codeToolFailed       = -32000
	codeResourceNotFound = -32002
)

// message is any incoming JSON-RPC message. ID is kept raw so that it can
// be echoed back byte for byte, whether it is a string or a number.
type message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

// outgoing is any message the server writes.
type outgoing struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  any             `json:"params,omitempty"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func newError(code int, format string, args ...any) *rpcError {
	return &rpcError{Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalidParams(format string, args ...any) *rpcError {
	return newError(codeInvalidParams, format, args...)
}

// encodeLine marshals v as one newline-terminated JSON line, without HTML
// escaping so that strings go out exactly as given.
func encodeLine(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// mustJSON marshals v and panics on error; for values built by the server.
func mustJSON(v any) json.RawMessage {
	line, err := encodeLine(v)
	if err != nil {
		panic(err)
	}
	return bytes.TrimSuffix(line, []byte("\n"))
}

// decodeParams unmarshals request params into v; absent params are fine.
func decodeParams(raw json.RawMessage, v any) *rpcError {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return invalidParams("invalid params: %v", err)
	}
	return nil
}

// idKey turns a raw id into a map key.
func idKey(id json.RawMessage) string {
	return string(bytes.TrimSpace(id))
}

// empty is the `{}` result.
type empty struct{}
