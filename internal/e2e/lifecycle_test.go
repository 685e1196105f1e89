package e2e

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// TestNoProcessLeftAfterStdinClose runs mcpmux with two real npm servers
// and stops it the two ways a client does, by closing its stdin or by
// sending SIGTERM: mcpmux must exit promptly with status 0, and no process
// it started, directly or not, may outlive it.
func TestNoProcessLeftAfterStdinClose(t *testing.T) {
	tests := []struct {
		name string
		stop func(t *testing.T, m *mcpmux)
	}{
		{"stdin closed", func(t *testing.T, m *mcpmux) {
			if err := m.client.Close(); err != nil {
				t.Errorf("closing the client: %v", err)
			}
		}},
		{"SIGTERM", func(t *testing.T, m *mcpmux) {
			if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatalf("sending SIGTERM to mcpmux: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.CheckNoChildren(t)
			cfg := writeConfig(t, map[string]any{"everything": everything(t), "memory": memory(t)})
			ctx := testContext(t, testTimeout)
			m := startMcpmux(t, ctx, cfg)
			waitForTools(t, ctx, m.client, "everything__", "memory__")
			m.procs.scan()
			seen := m.procs.descendants()
			if runtime.GOOS == "linux" && len(seen) < 2 {
				t.Fatalf("saw %d descendants of mcpmux, want at least its 2 upstreams:\n%s", len(seen), describe(seen))
			}

			stopped := time.Now()
			tt.stop(t, m)
			if !m.waitExit(5 * time.Second) {
				t.Fatalf("mcpmux still running 5s after %s", tt.name)
			}
			t.Logf("mcpmux exited %s after %s", time.Since(stopped).Round(time.Millisecond), tt.name)
			if m.waitErr != nil {
				t.Errorf("mcpmux ended with %s after %s, want exit status 0", exitStatus(m.waitErr), tt.name)
			}
			if runtime.GOOS != "linux" {
				return // no /proc to look for survivors in
			}
			if alive := m.procs.survivors(2 * time.Second); len(alive) > 0 {
				t.Errorf("processes started by mcpmux outlived it:\n%s", describe(alive))
			}
		})
	}
}

// TestNoProcessLeftAfterMcpmuxIsKilled kills mcpmux with SIGKILL, which it
// cannot catch: on Linux the kernel sends each upstream the parent-death
// signal mcpmux asked for when it started them, and none may survive.
func TestNoProcessLeftAfterMcpmuxIsKilled(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux's")
	}
	testutil.CheckNoChildren(t)
	cfg := writeConfig(t, map[string]any{
		"everything": everything(t),
		"memory":     memory(t),
		"go":         map[string]any{"command": testutil.TestServerPath(t), "args": []string{"-name", "go"}},
	})
	ctx := testContext(t, testTimeout)
	m := startMcpmux(t, ctx, cfg)
	waitForTools(t, ctx, m.client, "everything__", "memory__", "go__")
	m.procs.scan()
	if seen := m.procs.descendants(); len(seen) < 3 {
		t.Fatalf("saw %d descendants of mcpmux, want at least its 3 upstreams:\n%s", len(seen), describe(seen))
	}
	if err := m.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("sending SIGKILL to mcpmux: %v", err)
	}
	if !m.waitExit(5 * time.Second) {
		t.Fatal("mcpmux still running 5s after SIGKILL")
	}
	if alive := m.procs.survivors(3 * time.Second); len(alive) > 0 {
		t.Errorf("upstreams outlived a killed mcpmux:\n%s", describe(alive))
	}
}
