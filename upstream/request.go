package upstream

import (
	"github.com/mcpmux/mcpmux/upstream/oauth"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// Request sends one request to the upstream by its own method and names,
// and returns the raw result. With a "maxConcurrency", it first waits for
// a slot in its caller's queue (see [WithQueueKey]); a request whose ctx
// ends there is never sent, and ctx's cause is returned. If the upstream is not connected, Request
// asks for an attempt at once (reconnect on use; a lazy upstream is
// started) and waits for it, up to ctx's deadline. When ctx ends first, the
// upstream is told the request is cancelled. Errors name the server and
// say what happened.
func (s *Supervisor) Request(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	defer s.using()()
	if err := s.gate.acquire(ctx); err != nil {
		return nil, err // never sent: it timed out or was cancelled in the queue
	}
	defer s.gate.release()
	res, err := s.request(ctx, method, params)
	if errors.As(err, new(unsentError)) && !errors.Is(err, errShutdown) && ctx.Err() == nil {
		// The upstream never saw the request: its session had expired, or
		// it could not be reached. Send it once more, on a new connection.
		s.logger.Debug("sending request again on a new connection", "method", method, "err", err)
		res, err = s.request(ctx, method, params)
	}
	err = s.explain(ctx, err)
	var login *oauth.NeedsLoginError
	if errors.As(err, &login) && login.URL == "" {
		if c := s.opts.OAuth.Client(s.srv); c != nil {
			login.URL = c.PendingURL() // the error is this request's own
		}
	}
	return res, err
}

// request sends one request on the live connection, waiting for one if
// need be.
func (s *Supervisor) request(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	c, err := s.awaitReady(ctx)
	if err != nil {
		return nil, err
	}
	return c.request(ctx, method, params)
}

// explain names the server in an error of Request, unless the error is the
// upstream's own answer, comes from ctx, or names the server already.
func (s *Supervisor) explain(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var rpcErr *jsonrpc.Error
	switch {
	case err == nil || fromContext(ctx, err) || errors.As(err, &rpcErr) || errors.Is(err, ErrUnavailable):
		return err
	case errors.Is(err, ErrConnectionLost) && !errors.Is(err, errShutdown):
		return fmt.Errorf("upstream %q: %w; reconnecting", s.srv.Name, err)
	}
	return fmt.Errorf("upstream %q: %w", s.srv.Name, err)
}

// fromContext reports whether err is why ctx ended.
func fromContext(ctx context.Context, err error) bool {
	return ctx.Err() != nil && errors.Is(err, context.Cause(ctx))
}

// Notify sends a notification to the upstream if it is connected; it is
// dropped otherwise, as notifications are best effort.
func (s *Supervisor) Notify(ctx context.Context, method string, params json.RawMessage) error {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c == nil {
		return fmt.Errorf("upstream %q: %w", s.srv.Name, ErrUnavailable)
	}
	return c.sendNotification(ctx, method, params)
}

// awaitReady returns the live connection, waiting for one if the upstream
// is starting or its connection is being torn down. An upstream in backoff
// or idle is woken to try at once; if that attempt fails, its error is
// returned without waiting longer.
func (s *Supervisor) awaitReady(ctx context.Context) (*conn, error) {
	start, woken := time.Now(), false
	for {
		s.mu.Lock()
		st, c, changed := s.status, s.conn, s.changed
		s.mu.Unlock()
		switch {
		case st.State == StateReady && c != nil && !c.dead():
			return c, nil
		case st.State == StateStopped:
			return nil, s.unavailable(st)
		case st.State == StateBackoff && woken:
			return nil, s.unavailable(st)
		case st.State == StateBackoff || st.State == StateIdle:
			woken = s.wakeUp(st.State) || woken
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("upstream %q: %w: still %s after waiting %s", s.srv.Name, ErrUnavailable, st.State, time.Since(start).Round(time.Millisecond))
		}
	}
}

// wakeUp asks for an attempt now, if the supervisor is still waiting in
// state, and reports whether it was. Checking under the lock keeps a late
// wake-up from cutting a later backoff short.
func (s *Supervisor) wakeUp(waiting State) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status.State != waiting {
		return false
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

// unavailable explains why the upstream cannot serve a request now.
func (s *Supervisor) unavailable(st Status) error {
	why := st.LastError
	if why == "" {
		why = "not connected"
	}
	if login := s.needsLogin(); login != nil {
		return fmt.Errorf("upstream %q: %w: %w", s.srv.Name, ErrUnavailable, login)
	}
	switch {
	case st.State == StateBackoff:
		return fmt.Errorf("upstream %q: %w: %s (attempt %d failed; next attempt in %s)",
			s.srv.Name, ErrUnavailable, why, st.Attempt, max(st.NextRetry.Sub(s.clock.Now()), 0).Round(time.Millisecond))
	case st.Attempt > 0:
		return fmt.Errorf("upstream %q: %w: gave up after %d failed attempts: %s", s.srv.Name, ErrUnavailable, st.Attempt, why)
	default:
		return fmt.Errorf("upstream %q: %w: %s", s.srv.Name, ErrUnavailable, errShutdown)
	}
}

// needsLogin returns the login the upstream waits for, with the URL of
// the one under way here if there is one; nil if it waits for none.
func (s *Supervisor) needsLogin() *oauth.NeedsLoginError {
	s.mu.Lock()
	last := s.lastErr
	s.mu.Unlock()
	var login *oauth.NeedsLoginError
	if !errors.As(last, &login) {
		return nil
	}
	l := *login
	if c := s.opts.OAuth.Client(s.srv); c != nil {
		l.URL = c.PendingURL()
	}
	return &l
}
