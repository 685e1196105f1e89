package proxy

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// setLevel answers logging/setLevel and passes the level on to every
// upstream that logs. Upstream failures are logged, not returned: the
// level applies to the others all the same.
func (sess *session) setLevel(ctx context.Context, p *params) (json.RawMessage, error) {
	level, _ := p.str(keyRoute)
	switch mcp.LoggingLevel(level) {
	case mcp.LoggingLevelDebug, mcp.LoggingLevelInfo, mcp.LoggingLevelNotice, mcp.LoggingLevelWarning,
		mcp.LoggingLevelError, mcp.LoggingLevelCritical, mcp.LoggingLevelAlert, mcp.LoggingLevelEmergency:
	default:
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid logging level %q", level)
	}
	sess.mu.Lock()
	sess.level = level
	sess.mu.Unlock()
	sess.srv.mu.Lock()
	sess.srv.logLevel = p.raw // for upstreams that connect later
	sess.srv.mu.Unlock()
	cat := sess.srv.cat.Load()
	var wg sync.WaitGroup
	for name, c := range cat.upstreamCatalogues() {
		if !offers(c.Capabilities, "logging") {
			continue
		}
		wg.Go(func() {
			if _, err := sess.forward(ctx, entry{server: name}, "logging/setLevel", p.raw, nil); err != nil {
				sess.srv.logger.Warn("passing on the log level", "upstream", name, "err", err)
			}
		})
	}
	wg.Wait()
	return json.RawMessage(`{}`), nil
}
