package upstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// maxPingTimeout caps how long a health check waits for its answer.
const maxPingTimeout = 10 * time.Second

// checkHealth pings c every interval of the server's health policy until
// the returned func is called, which also waits for the checks to end.
// When threshold pings in a row fail, the connection dies with the last
// failure as its reason, which fails its requests in flight and makes
// watch return. Revisions without ping (2026-07-28) are not checked.
func (s *Supervisor) checkHealth(ctx context.Context, c *conn) (stop func()) {
	interval, threshold := s.srv.HealthPolicy()
	if interval <= 0 || mcp.IsModernProtocol(c.init.ProtocolVersion) {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.pingLoop(ctx, c, interval, threshold); err != nil {
			c.die(err)
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

// pingLoop pings c every interval and returns an error once threshold
// pings in a row have failed; nil if ctx ends or c dies first.
func (s *Supervisor) pingLoop(ctx context.Context, c *conn, interval time.Duration, threshold int) error {
	t, tick := s.clock.NewTicker(interval)
	defer t.Stop()
	timeout := min(interval, maxPingTimeout)
	for failures := 0; ; {
		select {
		case <-ctx.Done():
			return nil
		case <-c.done:
			return nil
		case <-tick:
		}
		err := c.ping(ctx, timeout)
		switch {
		case err == nil:
			failures = 0
		case ctx.Err() != nil || c.dead():
			return nil
		default:
			failures++
			if failures >= threshold {
				return fmt.Errorf("health check failed %d times in a row: %w", failures, err)
			}
			s.logger.Warn("health check failed", "err", err, "failures", failures, "threshold", threshold)
		}
	}
}

// ping asks the upstream whether it is alive. Any answer counts as alive,
// a JSON-RPC error too: the upstream read the request and wrote back.
func (c *conn) ping(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("no answer within %s", timeout))
	defer cancel()
	_, err := c.request(ctx, "ping", nil)
	var rpcErr *jsonrpc.Error
	if errors.As(err, &rpcErr) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pinging: %w", err)
	}
	return nil
}
