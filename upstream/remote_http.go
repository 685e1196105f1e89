package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/mcpmux/mcpmux/internal/clock"
	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/internal/redact"
)

// Errors of the remote transports, which remotePeer turns into reasons and
// hints.
var (
	// errSessionGone: the server answered HTTP 404 for mcpmux's session.
	errSessionGone = errors.New("the server no longer knows the session (HTTP 404)")
	// errUnauthorized: the server answered HTTP 401.
	errUnauthorized = errors.New("authorization required")
	// errStreamLost: the event stream that carries the server's messages
	// ended; the connection is of no use any more.
	errStreamLost = errors.New("SSE stream lost")
)

// statusError is an HTTP response with a status that the exchange did not
// allow for, with the start of its body, which usually says why.
type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string {
	if e.body == "" {
		return fmt.Sprintf("HTTP %d", e.code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.code, e.body)
}

// maxErrorBody bounds what of an error response's body an error quotes.
const maxErrorBody = 200

// newStatusError reads the start of resp's body into an error.
func newStatusError(resp *http.Response) *statusError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
	return &statusError{code: resp.StatusCode, body: truncated(body)}
}

// truncated returns the start of an error body, fit for a message.
func truncated(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) > maxErrorBody {
		body = append(body[:maxErrorBody:maxErrorBody], "…"...)
	}
	return string(bytes.ToValidUTF8(body, []byte("?")))
}

// httpBase is what both remote transports share: the HTTP client and the
// configured headers, the requests waiting for their responses, and where
// the server's own messages go. Its dispatch, drop and die are set before
// anything is sent and never change.
type httpBase struct {
	url     string
	client  *http.Client
	headers map[string]string // configured; secrets
	secrets *redact.Masker
	logger  *slog.Logger
	clock   clock.Clock // times reconnections and resumptions
	maxSize int         // of one message

	// dispatch hands on one message from the server (see conn.dispatch),
	// and drop one that was too large (see conn.dropTooLarge); both answer
	// through the transport they are given.
	dispatch func(data []byte, r replier)
	drop     func(e *jsonrpc.TooLargeError, r replier)
	// die ends the connection, because of err.
	die func(err error)
	// post sends a message that gets no response of its own, as the
	// transport does.
	post func(ctx context.Context, body []byte) error

	waiters waiters

	life      context.Context // ends with Close; the streams and answers run on it
	end       context.CancelFunc
	closeOnce sync.Once
}

// init readies w for the server at url, for messages of at most maxSize
// bytes (0: jsonrpc.DefaultMaxMessageSize).
func (w *httpBase) init(url string, client *http.Client, headers map[string]string, s *redact.Masker, logger *slog.Logger, maxSize int) {
	w.url, w.client, w.headers, w.secrets, w.logger = url, client, headers, s, logger
	w.maxSize = maxSize
	if w.maxSize <= 0 {
		w.maxSize = jsonrpc.DefaultMaxMessageSize
	}
	w.clock = clock.Real{}
	w.life, w.end = context.WithCancel(context.Background())
}

// newRequest returns an HTTP request with the configured headers, bound
// by ctx and by the transport's life.
func (w *httpBase) newRequest(ctx context.Context, method, url string, body []byte) (*http.Request, context.CancelFunc, error) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(w.life, cancel)
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		stop()
		cancel()
		return nil, nil, err
	}
	for k, v := range w.headers {
		req.Header.Set(k, v)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, func() { stop(); cancel() }, nil
}

// closed returns errTransportClosed once the transport is closed, and err
// otherwise: an exchange that Close cut short failed because of it.
func (w *httpBase) closed(err error) error {
	if w.life.Err() != nil {
		return errTransportClosed
	}
	return err
}

// await waits for the response to a request sent, for ctx to end, or for
// the transport to close.
func (w *httpBase) await(ctx context.Context, answer <-chan *jsonrpc.Message) (*jsonrpc.Message, error) {
	select {
	case resp := <-answer:
		return resp, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-w.life.Done():
		return nil, errTransportClosed
	}
}

// deliver hands a response to the request waiting for it.
func (w *httpBase) deliver(id json.RawMessage, resp *jsonrpc.Message) {
	w.waiters.deliver(id, resp)
}

// readEvents reads an event stream and hands on its messages, answering
// through r, until the response on answer arrives, which it returns, or
// the stream ends. A nil answer reads to the end.
func (w *httpBase) readEvents(er *eventReader, r replier, answer <-chan *jsonrpc.Message) (*jsonrpc.Message, error) {
	for {
		ev, err := er.next()
		switch {
		case err != nil:
			return nil, err
		case ev.name != "message":
			continue // MCP defines no other event here
		case ev.tooLarge != nil:
			w.drop(ev.tooLarge, r)
		case len(bytes.TrimSpace(ev.data)) > 0: // else a priming event
			w.dispatch(ev.data, r)
		}
		select {
		case resp := <-answer:
			return resp, nil
		default:
		}
	}
}

// readMessage reads a response body that holds one message, and hands it
// on, answering through r.
func (w *httpBase) readMessage(body io.Reader, r replier) error {
	data, err := io.ReadAll(io.LimitReader(body, int64(w.maxSize)+1))
	switch {
	case err != nil:
		return &brokenStreamError{err}
	case len(data) > w.maxSize:
		// The rest is not read: the connection goes with the body.
		w.drop(&jsonrpc.TooLargeError{Size: int64(len(data)), Max: w.maxSize, Head: data[:min(len(data), keptHead)]}, r)
		return nil
	}
	w.dispatch(data, r)
	return nil
}

// send posts a message that gets no response of its own (a notification,
// or an answer to one of the server's requests) to url, through do.
func (w *httpBase) send(ctx context.Context, url string, body []byte, do func(*http.Request) (*http.Response, error)) error {
	r, cancel, err := w.newRequest(ctx, http.MethodPost, url, body)
	if err != nil {
		return err
	}
	defer cancel()
	r.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := do(r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized:
		return errUnauthorized
	case code < 200 || code > 299:
		return newStatusError(resp)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody)) // lets the connection be reused
	return nil
}

// answer posts the answer to one of the server's requests, for as long as
// the connection lives. One that does not reach the server is logged; the
// server finds out by itself.
func (w *httpBase) answer(id, result json.RawMessage, err error) {
	if err := w.post(w.life, answerMessage(id, result, err)); err != nil && w.life.Err() == nil {
		w.logger.Debug("answering upstream request", "err", w.secrets.Error(err))
	}
}

// isEventStream reports whether resp's body is an event stream.
func isEventStream(resp *http.Response) bool {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mt == "text/event-stream"
}

// sleep waits d, and reports false if ctx ended first.
func (w *httpBase) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t, fired := w.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-fired:
		return true
	}
}
