package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// sseTransport is mcpmux's client of the HTTP+SSE transport of MCP
// 2024-11-05. A GET opens the event stream, whose first event names the
// endpoint that every message of mcpmux's is posted to; everything the
// server sends comes on the stream: responses, notifications, and its own
// requests, which are answered with a POST like any other message. The
// connection lives as long as the stream.
type sseTransport struct {
	httpBase
	reading sync.WaitGroup // the stream's reader

	mu       sync.Mutex
	endpoint string // where messages go; "" until the server names it
}

var (
	_ transport = (*sseTransport)(nil)
	_ replier   = (*sseTransport)(nil)
)

// Start opens the event stream and waits, within ctx, for the endpoint.
// The stream lives until Close, or until ctx ends (it is the connection's
// life).
func (t *sseTransport) start(ctx context.Context) error {
	stop := context.AfterFunc(ctx, t.end)
	r, cancel, err := t.newRequest(t.life, http.MethodGet, t.url, nil)
	if err != nil {
		stop()
		return err
	}
	r.Header.Set("Accept", "text/event-stream")
	resp, err := t.client.Do(r)
	if err != nil {
		cancel()
		return t.closed(err)
	}
	if resp.StatusCode != http.StatusOK || !isEventStream(resp) {
		defer resp.Body.Close()
		defer cancel()
		switch {
		case resp.StatusCode == http.StatusUnauthorized:
			return errUnauthorized
		case resp.StatusCode != http.StatusOK:
			return &notSSEError{newStatusError(resp)}
		}
		return &notSSEError{&statusError{code: resp.StatusCode, body: "content type " + resp.Header.Get("Content-Type") + ", not an event stream"}}
	}
	endpoint := make(chan error, 1)
	t.reading.Go(func() {
		defer cancel()
		t.read(resp, endpoint)
	})
	select {
	case err := <-endpoint:
		return err
	case <-t.life.Done():
		return t.closed(ctx.Err())
	}
}

// read reads the event stream until it ends, which kills the connection.
// The first event must name the endpoint; its outcome goes to endpoint.
func (t *sseTransport) read(resp *http.Response, endpoint chan<- error) {
	defer resp.Body.Close()
	er := newEventReader(resp.Body, t.maxSize)
	ev, err := er.next()
	if err == nil && ev.name != "endpoint" {
		err = fmt.Errorf("the server's first event is %q, not the endpoint", ev.name)
	}
	if err == nil {
		err = t.setEndpoint(string(ev.data))
	}
	endpoint <- err
	if err != nil {
		return
	}
	_, err = t.readEvents(er, t, nil)
	if t.life.Err() == nil {
		t.die(fmt.Errorf("%w: %w", errStreamLost, err))
	}
}

// setEndpoint resolves the endpoint the server named against the stream's
// URL. It must be on the same scheme and host, where the configured
// headers, which carry secrets, are meant to go.
func (t *sseTransport) setEndpoint(ref string) error {
	base, err := url.Parse(t.url)
	if err != nil {
		return err
	}
	u, err := base.Parse(strings.TrimSpace(ref))
	if err != nil {
		return fmt.Errorf("parsing the server's endpoint: %w", err)
	}
	if u.Scheme != base.Scheme || u.Host != base.Host {
		return fmt.Errorf("refusing the endpoint %s://%s: the server's headers must not leave it", u.Scheme, u.Host)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.endpoint = u.String()
	return nil
}

// roundTrip posts req and waits for its response on the stream.
func (t *sseTransport) roundTrip(ctx context.Context, req *wireRequest) (*jsonrpc.Message, error) {
	answer, remove := t.waiters.add(req.id)
	defer remove()
	if err := t.send(ctx, req.line); err != nil {
		return nil, err
	}
	return t.await(ctx, answer)
}

func (t *sseTransport) send(ctx context.Context, body []byte) error {
	t.mu.Lock()
	endpoint := t.endpoint
	t.mu.Unlock()
	if endpoint == "" {
		return errors.New("the server has not named its endpoint")
	}
	return t.httpBase.send(ctx, endpoint, body, t.do)
}

// do sends r. The server forgot the session if it answers 404.
func (t *sseTransport) do(r *http.Request) (*http.Response, error) {
	resp, err := t.client.Do(r)
	if err != nil {
		return nil, t.closed(err)
	}
	if resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		return nil, errSessionGone
	}
	return resp, nil
}

// close ends the stream and every exchange in flight.
func (t *sseTransport) close() error {
	t.closeOnce.Do(func() {
		t.end()
		t.reading.Wait()
	})
	return nil
}

// notSSEError: the server did not open an event stream.
type notSSEError struct{ *statusError }

func (e *notSSEError) Unwrap() error { return e.statusError }
