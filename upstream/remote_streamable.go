package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// Reconnecting the listening stream: after reconnectDelay, or what the
// server asked for with the stream's retry field, doubling after each
// failure up to maxReconnectDelay. minPollDelay keeps a server that asks
// for no delay at all from being polled in a tight loop.
const (
	reconnectDelay    = time.Second
	maxReconnectDelay = 30 * time.Second
	minPollDelay      = 50 * time.Millisecond
	// deleteTimeout bounds ending the session when the connection closes.
	deleteTimeout = 2 * time.Second
)

// The headers of the streamable HTTP transport.
const (
	headerSession  = "Mcp-Session-Id"
	headerProtocol = "MCP-Protocol-Version"
	headerLastID   = "Last-Event-ID"
)

// streamableTransport is mcpmux's client of the streamableTransport HTTP transport of the
// handshake-based revisions (2025-03-26 to 2025-11-25). Each message goes
// out in a POST; the response to a request comes back as JSON or on an
// event stream of its own, which may carry the server's requests and
// notifications first. The standalone GET stream carries what belongs to
// no request. Everything the server sends is handed on raw.
//
// The session is the one the server names in Mcp-Session-Id when it
// answers initialize; once it answers 404 for it, every later message
// fails with errSessionGone without being sent, and the connection dies:
// the next one starts a new session. A response stream that breaks off is
// resumed with Last-Event-ID if the server numbered its events, as is the
// GET stream, which is reconnected whenever it ends. Close ends the
// session with DELETE.
type streamableTransport struct {
	httpBase
	listening sync.WaitGroup // the GET stream's goroutine

	mu      sync.Mutex
	session string // "" until initialize answers with one
	version string // the negotiated revision, "" until then
	expired bool   // the server answered 404 for session
}

var (
	_ transport = (*streamableTransport)(nil)
	_ replier   = (*streamableTransport)(nil)
)

func (t *streamableTransport) start(context.Context) error { return nil }

// roundTrip posts req and returns its response, from the POST's own
// response or from wherever else the server sends it.
func (t *streamableTransport) roundTrip(ctx context.Context, req *wireRequest) (*jsonrpc.Message, error) {
	answer, remove := t.waiters.add(req.id)
	defer remove()
	r, cancel, err := t.newRequest(ctx, http.MethodPost, t.url, req.line)
	if err != nil {
		return nil, err
	}
	defer cancel()
	r.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := t.do(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	initialize := req.method == "initialize"
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized:
		return nil, errUnauthorized
	case initialize && (code == http.StatusBadRequest || code == http.StatusNotFound || code == http.StatusMethodNotAllowed):
		return nil, &notStreamableError{newStatusError(resp)}
	case code == http.StatusAccepted:
		return t.await(ctx, answer) // the answer comes on another stream
	case code != http.StatusOK:
		return t.failedRequest(resp, req.id)
	}
	if initialize {
		if err := t.startSession(resp.Header.Get(headerSession)); err != nil {
			return nil, err
		}
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		if err := t.readMessage(resp.Body, t); err != nil {
			return nil, t.closed(err)
		}
		return t.await(ctx, answer) // delivered already, unless it was something else
	case "text/event-stream":
		return t.streamedResponse(ctx, resp.Body, answer)
	}
	return nil, fmt.Errorf("unexpected content type %q in the answer to %s", resp.Header.Get("Content-Type"), req.method)
}

// do sends r with the session's headers. A request on a session the
// server has forgotten is not sent at all.
func (t *streamableTransport) do(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	session, version, expired := t.session, t.version, t.expired
	t.mu.Unlock()
	if expired {
		return nil, errSessionGone
	}
	if session != "" {
		r.Header.Set(headerSession, session)
	}
	if version != "" {
		r.Header.Set(headerProtocol, version)
	}
	resp, err := t.client.Do(r)
	if err != nil {
		return nil, t.closed(err)
	}
	// A 404 for a GET may only mean that the server offers no stream; the
	// listening stream decides (see listen).
	if resp.StatusCode == http.StatusNotFound && session != "" && r.Method != http.MethodGet {
		resp.Body.Close()
		t.mu.Lock()
		if t.session == session {
			t.expired = true
		}
		t.mu.Unlock()
		return nil, errSessionGone
	}
	return resp, nil
}

// startSession keeps the session id the server answered initialize with.
// It must be visible ASCII, as the spec says: it goes into every header.
func (t *streamableTransport) startSession(id string) error {
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return fmt.Errorf("the server's %s header holds a character that is not visible ASCII", headerSession)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.session = id
	return nil
}

// failedRequest explains an HTTP error in answer to request id: the
// JSON-RPC error in its body if it answers the request, else the status.
func (t *streamableTransport) failedRequest(resp *http.Response, id string) (*jsonrpc.Message, error) {
	if !isJSON(resp) {
		return nil, newStatusError(resp)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, int64(t.maxSize)))
	if m, err := jsonrpc.Decode(bytes.TrimSpace(body)); err == nil && m.IsResponse() && m.Error != nil {
		if key, ok := jsonrpc.Unquote(m.ID); ok && string(key) == id {
			return &m, nil
		}
	}
	return nil, &statusError{code: resp.StatusCode, body: truncated(body)}
}

// streamedResponse reads the event stream of a request until its response
// arrives. A stream that ends first is resumed if the server numbered its
// events: at once if it broke off, after the delay the server asked for if
// it closed it (2025-11-25 lets a server close a stream to be polled).
func (t *streamableTransport) streamedResponse(ctx context.Context, body io.ReadCloser, answer <-chan *jsonrpc.Message) (*jsonrpc.Message, error) {
	er := newEventReader(body, t.maxSize)
	related := &relatedReplier{t, ctx}
	for {
		resp, err := t.readEvents(er, related, answer)
		body.Close()
		switch {
		case resp != nil:
			return resp, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case t.life.Err() != nil:
			return nil, errTransportClosed
		}
		select {
		case resp := <-answer: // it came on another stream
			return resp, nil
		default:
		}
		if er.lastID == "" {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("the server ended the response stream without answering")
			}
			return nil, &brokenStreamError{err}
		}
		delay := time.Duration(0)
		if errors.Is(err, io.EOF) {
			delay = pollDelay(er)
		}
		if !t.sleep(ctx, delay) {
			return nil, ctx.Err()
		}
		if body, err = t.resume(ctx, er.lastID); err != nil {
			return nil, err
		}
		er.r.Reset(body)
	}
}

// pollDelay is how long to wait before reconnecting to a stream that the
// server closed.
func pollDelay(er *eventReader) time.Duration {
	if er.hasRetry {
		return max(er.retry, minPollDelay)
	}
	return reconnectDelay
}

// resume reopens a stream with GET from after the event lastID, bound by
// ctx and the transport's life, and returns its body.
func (t *streamableTransport) resume(ctx context.Context, lastID string) (io.ReadCloser, error) {
	resp, cancel, err := t.getStream(ctx, lastID)
	if err != nil {
		return nil, err
	}
	return cancelOnClose{resp.Body, cancel}, nil
}

// getStream opens an event stream with GET: the listening stream, or the
// rest of a stream after the event lastID. cancel ends it.
func (t *streamableTransport) getStream(ctx context.Context, lastID string) (*http.Response, context.CancelFunc, error) {
	r, cancel, err := t.newRequest(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return nil, nil, err
	}
	r.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		r.Header.Set(headerLastID, lastID)
	}
	resp, err := t.do(r)
	switch {
	case err != nil:
		cancel()
		return nil, nil, err
	case resp.StatusCode == http.StatusOK && isEventStream(resp):
		return resp, cancel, nil
	}
	defer resp.Body.Close()
	defer cancel()
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, nil, errUnauthorized
	}
	if resp.StatusCode == http.StatusOK {
		return nil, nil, fmt.Errorf("GET answered with content type %q, not an event stream", resp.Header.Get("Content-Type"))
	}
	return nil, nil, newStatusError(resp)
}

// send posts a message that gets no response.
func (t *streamableTransport) send(ctx context.Context, body []byte) error {
	return t.httpBase.send(ctx, t.url, body, t.do)
}

// close stops the listening stream and every exchange in flight, and ends
// the session, unless the server has forgotten it already.
func (t *streamableTransport) close() error {
	t.closeOnce.Do(func() {
		t.end()
		t.listening.Wait()
		t.mu.Lock()
		session, version, expired := t.session, t.version, t.expired
		t.mu.Unlock()
		if session != "" && !expired {
			t.deleteSession(session, version)
		}
	})
	return nil
}

// deleteSession tells the server that mcpmux is done with the session.
// The answer does not matter: the server may not allow it (405).
func (t *streamableTransport) deleteSession(session, version string) {
	ctx, cancel := context.WithTimeout(context.Background(), deleteTimeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodDelete, t.url, nil)
	if err != nil {
		return
	}
	for k, v := range t.headers {
		r.Header.Set(k, v)
	}
	r.Header.Set(headerSession, session)
	if version != "" {
		r.Header.Set(headerProtocol, version)
	}
	resp, err := t.client.Do(r)
	if err != nil {
		t.logger.Debug("ending the session", "err", t.secrets.Error(err))
		return
	}
	resp.Body.Close()
}

// cancelOnClose is a response body whose Close also ends its request.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	c.cancel()
	return c.ReadCloser.Close()
}

// notStreamableError: the server refused initialize in the way of a
// server of the older HTTP+SSE transport.
type notStreamableError struct{ *statusError }

func (e *notStreamableError) Unwrap() error { return e.statusError }

// brokenStreamError: the connection broke while the server's answer was
// being read.
type brokenStreamError struct{ err error }

func (e *brokenStreamError) Error() string {
	return "the connection broke off before the server answered: " + e.err.Error()
}

func (e *brokenStreamError) Unwrap() error { return e.err }

func isJSON(resp *http.Response) bool {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mt == "application/json"
}
