package statuspage_test

import (
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/internal/statuspage"
	"github.com/mcpmux/mcpmux/internal/testutil"
)

// TestJSON checks /status.json against real calls to two real upstreams:
// each upstream's state, tools, calls, errors and p95; the session with
// its client's name, protocol and calls; the last calls, newest first,
// with their outcomes and without their arguments or results.
func TestJSON(t *testing.T) {
	sys := start(t, setup{})
	c := sys.connect("json-client")
	call(t, c, "alpha__echo", map[string]any{"message": "argument-never-shown"})
	call(t, c, "alpha__echo", map[string]any{"message": "argument-never-shown"})
	call(t, c, "beta__error", nil) // a JSON-RPC error
	call(t, c, "beta__whoami", nil)

	var v *statuspage.View
	var body string
	testutil.WaitFor(t, "4 calls on the page", func() bool {
		v, body = sys.view(nil)
		return len(v.Calls) == 4
	})
	alpha, beta := upstreamOf(t, v, "alpha"), upstreamOf(t, v, "beta")
	if alpha.State != "ready" || beta.State != "ready" {
		t.Errorf("states = %q, %q, want ready, ready", alpha.State, beta.State)
	}
	if alpha.Since.IsZero() || alpha.Tools < 10 || alpha.Tools != beta.Tools {
		t.Errorf("alpha: since %v, %d tools; beta %d tools: want a time and the test server's tools on both", alpha.Since, alpha.Tools, beta.Tools)
	}
	if alpha.Calls != 2 || alpha.Errors != 0 || alpha.P95Millis <= 0 {
		t.Errorf("alpha: %d calls, %d errors, p95 %vms; want 2, 0, > 0", alpha.Calls, alpha.Errors, alpha.P95Millis)
	}
	if beta.Calls != 2 || beta.Errors != 1 {
		t.Errorf("beta: %d calls, %d errors; want 2, 1", beta.Calls, beta.Errors)
	}
	want := []struct{ server, tool, outcome string }{
		{"beta", "whoami", "ok"}, {"beta", "error", "error"}, {"alpha", "echo", "ok"}, {"alpha", "echo", "ok"},
	}
	for i, w := range want {
		if got := v.Calls[i]; got.Server != w.server || got.Tool != w.tool || got.Outcome != w.outcome || got.At.IsZero() {
			t.Errorf("calls[%d] = %+v, want %+v", i, got, w)
		}
	}
	if len(v.Sessions) != 1 {
		t.Fatalf("sessions = %+v, want json-client's", v.Sessions)
	}
	if s := v.Sessions[0]; s.Client != "json-client" || s.ClientVersion != "1.2.3" || s.Protocol == "" || s.Calls != 4 {
		t.Errorf("session = %+v, want json-client 1.2.3, a protocol, 4 calls", s)
	}
	if strings.Contains(body, "argument-never-shown") {
		t.Errorf("/status.json shows a call's argument:\n%s", body)
	}
	if v.CanAct {
		t.Errorf("canAct for a request without the page's token or the bearer token")
	}
}

// TestLastHundred checks that the page keeps the last 100 calls only.
func TestLastHundred(t *testing.T) {
	var c statuspage.Calls
	for i := range 130 {
		tool := "t" + string(rune('a'+i%26))
		c.Record("s", tool, 0, nil)
	}
	recent := c.Recent()
	if len(recent) != statuspage.RecentCalls {
		t.Fatalf("Recent() has %d calls, want %d", len(recent), statuspage.RecentCalls)
	}
	if got, want := recent[0].Tool, "t"+string(rune('a'+129%26)); got != want {
		t.Errorf("newest = %s, want %s", got, want)
	}
	if got := c.Stats()["s"].Calls; got != 130 {
		t.Errorf("Stats()[s].Calls = %d, want 130", got)
	}
}
