package bench

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/mux"
	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry"
)

// upstreamCmd is how to start one upstream: a command and its arguments.
type upstreamCmd struct {
	name string
	args []string
}

func testServer(tb testing.TB, args ...string) upstreamCmd {
	return upstreamCmd{name: testutil.TestServerPath(tb), args: args}
}

func everything(tb testing.TB) upstreamCmd {
	return upstreamCmd{name: testutil.NPMBin(tb, testutil.EverythingPkg, testutil.EverythingVersion, testutil.EverythingBin)}
}

// target is one way of reaching an upstream, with the name of its echo
// tool as the client sees it.
type target struct {
	name string
	c    *client
	echo string
}

// pipes returns the two pipes between a client and what it speaks to:
// the client writes cw and reads cr; the other side reads sr and writes sw.
func pipes(tb testing.TB) (cw, sw *os.File, cr, sr *os.File) {
	tb.Helper()
	sr, cw, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	cr, sw, err = os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	return cw, sw, cr, sr
}

// startDirect starts u and returns a client speaking to it directly.
func startDirect(tb testing.TB, u upstreamCmd, echo string) *target {
	tb.Helper()
	cmd := exec.Command(u.name, u.args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", u.name, err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	c := newClient(tb, stdin, stdout)
	c.initialize()
	return &target{name: "direct", c: c, echo: echo}
}

// startRelay starts u behind a minimal line relay.
func startRelay(tb testing.TB, u upstreamCmd, echo string) *target {
	tb.Helper()
	cw, sw, cr, sr := pipes(tb)
	testutil.StartRelay(tb, sr, sw, u.name, u.args...)
	tb.Cleanup(func() {
		cw.Close()
		cr.Close()
	})
	c := newClient(tb, cw, cr)
	c.initialize()
	return &target{name: "relay", c: c, echo: echo}
}

// startMcpmux runs mcpmux in this process (as `mcpmux serve
// --no-registry` does, through mux.New) in front of the upstreams (name →
// command) and returns a client speaking to it, once its first tools/list
// has answered with every upstream's tools. echo is the client's name of
// the echo tool.
func startMcpmux(tb testing.TB, ups map[string]upstreamCmd, echo string) *target {
	tb.Helper()
	return startMcpmuxWith(tb, ups, echo, mux.Options{Version: "bench"})
}

// startMcpmuxWith is startMcpmux with the mux's options.
func startMcpmuxWith(tb testing.TB, ups map[string]upstreamCmd, echo string, opts mux.Options) *target {
	tb.Helper()
	cw, sw, cr, sr := pipes(tb)
	servers := map[string]any{}
	for name, u := range ups {
		servers[name] = map[string]any{"command": u.name, "args": u.args}
	}
	data, err := json.Marshal(map[string]any{"mcpServers": servers, "toolMode": "full"})
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := registry.Parse(data, func(string) (string, bool) { return "", false })
	if err != nil {
		tb.Fatalf("registry.Parse: %v", err)
	}
	m := mux.New(cfg, opts)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = m.Run(context.Background(), sr, sw)
		sw.Close()
	}()
	tb.Cleanup(func() {
		cw.Close()
		<-done
		cr.Close()
		sr.Close()
	})
	c := newClient(tb, cw, cr)
	c.initialize()
	if echo != "" {
		mustContain(tb, c.call("tools/list", ""), `"`+echo+`"`)
	}
	return &target{name: "mcpmux", c: c, echo: echo}
}

// startAll starts the three targets in front of u.
func startAll(tb testing.TB, u upstreamCmd, echo string) []*target {
	tb.Helper()
	return []*target{
		startDirect(tb, u, echo),
		startRelay(tb, u, echo),
		startMuxOne(tb, u, echo),
	}
}
