package jsonrpc

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// The encoders append one message to dst, and a newline after it: a line
// of the newline-delimited framing, ready to write in one call. Raw ids,
// params and results are written as they are, so that they arrive byte for
// byte, except that a value with line breaks (pretty-printed JSON from an
// HTTP server, say) is compacted, which the framing needs. Raw values must
// be valid JSON.

// AppendRequest appends a request with a raw id and params (nil: none).
func AppendRequest(dst []byte, id json.RawMessage, method string, params json.RawMessage) []byte {
	dst = grow(dst, len(id)+len(method)+len(params)+48)
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = appendRaw(dst, id)
	return appendCall(dst, method, params)
}

// AppendNotification appends a notification with raw params (nil: none).
func AppendNotification(dst []byte, method string, params json.RawMessage) []byte {
	dst = grow(dst, len(method)+len(params)+40)
	dst = append(dst, `{"jsonrpc":"2.0"`...)
	return appendCall(dst, method, params)
}

func appendCall(dst []byte, method string, params json.RawMessage) []byte {
	dst = append(dst, `,"method":`...)
	dst = AppendQuote(dst, method)
	if !IsNull(params) {
		dst = append(dst, `,"params":`...)
		dst = appendRaw(dst, params)
	}
	return append(dst, "}\n"...)
}

// AppendResult appends the response to request id with a raw result.
func AppendResult(dst []byte, id, result json.RawMessage) []byte {
	dst = grow(dst, len(id)+len(result)+40)
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = appendRaw(dst, id)
	dst = append(dst, `,"result":`...)
	dst = appendRaw(dst, result)
	return append(dst, "}\n"...)
}

// AppendError appends the error response to request id; a nil id is
// written as null, as JSON-RPC wants for a request whose id is unknown.
func AppendError(dst []byte, id json.RawMessage, e *Error) []byte {
	if IsNull(id) {
		id = json.RawMessage("null")
	}
	dst = grow(dst, len(id)+len(e.Message)+len(e.Data)+64)
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = appendRaw(dst, id)
	dst = append(dst, `,"error":`...)
	dst = AppendErrorObject(dst, e)
	return append(dst, "}\n"...)
}

// AppendErrorObject appends e as a JSON-RPC error object. Data that is
// not valid JSON is left out.
func AppendErrorObject(dst []byte, e *Error) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(e.Code), 10)
	dst = append(dst, `,"message":`...)
	dst = AppendQuote(dst, e.Message)
	if !IsNull(e.Data) && json.Valid(e.Data) {
		dst = append(dst, `,"data":`...)
		dst = appendRaw(dst, e.Data)
	}
	return append(dst, '}')
}

// appendRaw appends a raw value, compacted if it spans lines.
func appendRaw(dst, v []byte) []byte {
	if bytes.IndexByte(v, '\n') < 0 && bytes.IndexByte(v, '\r') < 0 {
		return append(dst, v...)
	}
	b := bytes.NewBuffer(dst)
	if json.Compact(b, v) != nil {
		return append(dst, "null"...) // not JSON: the caller broke the contract
	}
	return b.Bytes()
}

// grow makes room for n more bytes in dst, which is allocated to fit if
// it is nil.
func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	out := make([]byte, len(dst), len(dst)+n)
	copy(out, dst)
	return out
}
