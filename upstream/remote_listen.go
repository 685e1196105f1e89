package upstream

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// negotiator is a transport that needs the revision the handshake settled
// on before the client says it is initialized.
type negotiator interface {
	negotiated(ctx context.Context, version string) error
}

var _ negotiator = (*streamableTransport)(nil)

// negotiated keeps the revision, which goes into the header of every later
// request, and opens the listening stream. That happens before the client
// says it is initialized, because a server may ask for something at once
// (server-everything asks for the roots), and it sends what belongs to no
// request only on a stream that is open. A server that offers no stream
// (405, or another refusal) is served without one; one that cannot offer
// it now is asked again later. ctx bounds only the wait for the stream's
// headers.
func (t *streamableTransport) negotiated(ctx context.Context, version string) error {
	t.mu.Lock()
	t.version = version
	t.mu.Unlock()
	attempt, cancel := context.WithCancel(t.life)
	stop := context.AfterFunc(ctx, cancel)
	resp, end, err := t.getStream(attempt, "")
	stop()
	if err != nil {
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case refused(err):
			t.logger.Debug("server offers no listening stream", "err", t.secrets.Error(err))
			return nil
		case !retryable(err):
			return err
		}
		resp, end = nil, nil
	}
	t.listening.Go(func() {
		defer cancel()
		t.listen(resp, end)
	})
	return nil
}

// listen reads the listening stream until the transport closes, handing
// on what the server sends, and reconnects whenever the stream ends: after
// the delay the server asked for with the stream's retry field, or
// reconnectDelay, from after the last event it numbered. Failures to
// reconnect that leave the connection of no use kill it: the session is
// gone (404 on a stream that worked), the credentials no longer work, the
// server cannot be reached; a server that stops offering the stream is
// served without it; other failures double the delay, up to
// maxReconnectDelay. resp is the stream opened already; nil means none.
func (t *streamableTransport) listen(resp *http.Response, end context.CancelFunc) {
	er := newEventReader(http.NoBody, t.maxSize)
	opened := resp != nil
	failures := 0
	for {
		if resp != nil {
			er.r.Reset(resp.Body)
			_, err := t.readEvents(er, t, nil)
			resp.Body.Close()
			end()
			if t.life.Err() != nil {
				return
			}
			t.logger.Debug("listening stream ended; reconnecting", "err", t.secrets.Error(err))
			failures = 0
		}
		if !t.sleep(t.life, t.listenDelay(er, failures)) {
			return
		}
		var err error
		resp, end, err = t.getStream(t.life, er.lastID)
		switch {
		case err == nil:
			opened = true
		case t.life.Err() != nil:
			return
		case opened && isStatus(err, http.StatusNotFound):
			t.expire()
			t.die(errSessionGone)
			return
		case errors.Is(err, errUnauthorized) || networkFailure(err):
			t.die(err)
			return
		case refused(err):
			t.logger.Info("server stopped offering the listening stream", "err", t.secrets.Error(err))
			return
		default:
			failures++
			t.logger.Debug("reconnecting the listening stream", "err", t.secrets.Error(err), "failures", failures)
		}
	}
}

// listenDelay is how long to wait before reconnecting the listening stream
// after failures failed attempts in a row.
func (t *streamableTransport) listenDelay(er *eventReader, failures int) time.Duration {
	d := pollDelay(er)
	for range failures {
		if d >= maxReconnectDelay {
			break
		}
		d *= 2
	}
	return min(d, maxReconnectDelay)
}

// expire marks the session as forgotten by the server.
func (t *streamableTransport) expire() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expired = true
}

// refused reports whether err is the server's refusal of a stream, rather
// than a failure it may get over: a 4xx other than 408, 409 (a stream is
// open already, as far as the server knows) and 429.
func refused(err error) bool {
	var se *statusError
	if !errors.As(err, &se) || se.code < 400 || se.code > 499 {
		return false
	}
	switch se.code {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
		return false
	}
	return true
}

// retryable reports whether err is an HTTP status worth trying again.
func retryable(err error) bool {
	var se *statusError
	return errors.As(err, &se) && !refused(err)
}

func isStatus(err error, code int) bool {
	var se *statusError
	return errors.As(err, &se) && se.code == code
}
