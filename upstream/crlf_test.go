package upstream_test

import (
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/upstream"
)

// A server that ends its lines with \r\n, as some Windows servers do, is
// an upstream like any other: its handshake, its lists and its answers
// are read whole.
func TestCRLFUpstream(t *testing.T) {
	testutil.CheckLeaks(t)
	r := supervise(t, testServer(t, "a", "-crlf"), upstream.Options{})
	r.waitState(upstream.StateReady) // initialize and every list answered
	if got := r.mustCall("echo", map[string]any{"message": "over crlf"}); !strings.Contains(got, "over crlf") {
		t.Errorf("echo through a CRLF upstream = %s, want the message back", got)
	}
}
