package main

import (
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

func TestFreezeAfter(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil, "-freeze-after", "1")
	p.initialize()
	if got := p.tool("echo", map[string]any{"message": "x"}); got != "x" {
		t.Errorf("echo = %q", got)
	}
	p.request("ping", nil)
	p.request("tools/call", map[string]any{"name": "whoami"})
	_ = p.stdin.Close()
	select {
	case line, ok := <-p.lines:
		if !ok {
			t.Fatal("frozen server exited on stdin EOF")
		}
		t.Fatalf("frozen server wrote %q", line)
	case <-time.After(300 * time.Millisecond):
	}
	_ = p.cmd.Process.Kill()
}

func TestNoPing(t *testing.T) {
	testutil.CheckLeaks(t)
	p := start(t, nil, "-no-ping")
	p.initialize()
	if code, _ := p.callError("ping", nil); code != codeMethodNotFound {
		t.Errorf("ping error code = %d, want %d", code, codeMethodNotFound)
	}
}
