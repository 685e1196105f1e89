package httpserve_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/proxy"
	"github.com/mcpmux/mcpmux/proxy/httpserve"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream"
)

// silent is an upstream that answers nothing; only its handshake matters.
type silent struct{}

func (silent) Request(ctx context.Context, _ string, _ json.RawMessage) (json.RawMessage, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (silent) Notify(context.Context, string, json.RawMessage) error { return nil }

// Every HTTP session's initialize carries the upstreams' instructions.
func TestSessionsGetInstructions(t *testing.T) {
	srv := proxy.New(proxy.Options{})
	srv.AddUpstream(&registry.Server{Name: "docs", Command: "unused"}, silent{})
	srv.UpstreamHandshake("docs", upstream.Handshake{Instructions: "Search the docs first."})
	base, _ := serveProxy(t, srv, httpserve.Options{})
	for i := range 2 {
		code, session, body := post(t, base+"/mcp", initialize, nil)
		if code != http.StatusOK || session == "" || !strings.Contains(body, `## docs__ tools\n\nSearch the docs first.`) {
			t.Errorf("session %d: initialize = %d %q, want the upstream's instructions", i, code, body)
		}
	}
}
