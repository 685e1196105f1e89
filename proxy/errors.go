package proxy

import (
	"errors"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/upstream"
)

// toRPCError turns an error into what the client receives: a JSON-RPC
// error unchanged (an upstream's own, or mcpmux's), anything else with a
// message that names the server and says what happened.
func toRPCError(err error) *jsonrpc.Error {
	var re *jsonrpc.Error
	if errors.As(err, &re) {
		return re
	}
	if errors.Is(err, upstream.ErrUnavailable) || errors.Is(err, upstream.ErrConnectionLost) {
		return &jsonrpc.Error{Code: jsonrpc.CodeUnavailable, Message: err.Error()}
	}
	return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: err.Error()}
}

// clientError is the error the client receives for err, with every
// configured secret masked in its message and data: an upstream may
// quote its environment, a failing remote server the headers it was sent.
func (s *Server) clientError(err error) *jsonrpc.Error {
	e := toRPCError(err)
	m := s.opts.Masker
	if m == nil {
		return e
	}
	masked := &jsonrpc.Error{Code: e.Code, Message: m.String(e.Message), Data: e.Data}
	if e.Data != nil {
		masked.Data = m.JSON(e.Data)
	}
	return masked
}
