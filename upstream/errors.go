package upstream

import (
	"errors"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

var (
	// ErrUnavailable is returned for a request to an upstream that is not
	// connected: it is starting, waiting to reconnect, or stopped.
	ErrUnavailable = errors.New("upstream unavailable")
	// ErrConnectionLost is returned for a request that was in flight when
	// the connection to its upstream died.
	ErrConnectionLost = errors.New("connection lost")

	// errTransportClosed fails what is sent on a closed transport.
	errTransportClosed = errors.New("transport closed")

	// errIdle ends a lazy upstream's connection that nobody uses.
	errIdle = errors.New("stopped while idle")
	// errShutdown ends every connection when Run's context is done.
	errShutdown = errors.New("mcpmux is shutting down")
	// errSessionExpired ends a streamable HTTP connection whose server no
	// longer knows its session (HTTP 404): a new connection starts a new
	// session.
	errSessionExpired = errors.New("session expired; re-initializing")
)

// unsentError marks the error of a request that cannot have reached the
// upstream, which makes it safe to send again on a new connection.
type unsentError struct{ error }

func (e unsentError) Unwrap() error { return e.error }

// exitError says why a child process ended, with the last line it wrote
// to stderr, which usually names the cause ("Cannot find module …").
type exitError struct {
	err        error // from exec.Cmd.Wait; nil for a clean exit
	lastStderr string
}

func (e *exitError) Error() string {
	msg := "process exited (exit status 0)"
	if e.err != nil {
		msg = "process exited (" + e.err.Error() + ")"
	}
	if e.lastStderr != "" {
		msg += ": " + e.lastStderr
	}
	return msg
}

func (e *exitError) Unwrap() error { return e.err }

// RefusedCode is the JSON-RPC error code with which an mcpmux answers
// initialize when it must not serve as the upstream of the mcpmux that
// started it: it would serve the same configuration again, or nest too
// deep. The error's message says why, and the upstream is not retried.
const RefusedCode = -32050

// refusal returns the reason of an upstream's refusal to serve (see
// RefusedCode), if err is one.
func refusal(err error) (string, bool) {
	var rpc *jsonrpc.Error
	if errors.As(err, &rpc) && rpc.Code == RefusedCode {
		return rpc.Message, true
	}
	return "", false
}
