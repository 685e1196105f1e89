// Package testutil holds the helpers that mcpmux's tests share, so that
// each exists once:
//
//   - the test server: [TestServerPath] builds internal/testserver (a
//     configurable, hand-written MCP server that tests start as a real
//     subprocess), and [TestServer] makes a configuration entry for it;
//   - leak checks, registered as test cleanups: [CheckLeaks], or
//     [CheckNoChildren] and [CheckNoGoroutineLeak] alone;
//   - waiting for the state a test asserts: [WaitFor] (or [Await], which
//     leaves the failure to the caller), bounded by [WaitTimeout] as a
//     guard against hangs only; [CountInFile] reads a test server's
//     message log;
//   - [SyncBuffer], a buffer for log output that code under test writes
//     from several goroutines;
//   - the mcpmux binary ([BuildMcpmux]), the npm servers of the
//     end-to-end tests ([NPMBin]), process listings ([Processes],
//     [Descendants], [Marked]) and a minimal line relay ([RelayLines]).
package testutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

const (
	testServerPackage = "github.com/mcpmux/mcpmux/internal/testserver"
	lineRelayPackage  = "github.com/mcpmux/mcpmux/internal/testutil/linerelay"
)

// leakTimeout is how long the leak checks wait for things to settle.
var leakTimeout = 30 * time.Second // a hang guard: under load things settle late, not never

var (
	testServer = sync.OnceValues(func() (string, error) { return buildTool(testServerPackage, "testserver") })
	lineRelay  = sync.OnceValues(func() (string, error) { return buildTool(lineRelayPackage, "linerelay") })
)

// TestServerPath returns the path of the testserver binary, building it the
// first time it is called in this test binary. The binary lives in a
// directory under os.TempDir named mcpmux-testserver-*, kept for the whole
// test binary (and left behind afterwards). It fails tb if the build fails.
func TestServerPath(tb testing.TB) string {
	tb.Helper()
	path, err := testServer()
	if err != nil {
		tb.Fatalf("building testserver: %v", err)
	}
	return path
}

// LineRelayPath returns the path of the linerelay binary (a minimal stdio
// relay, see [RelayLines]), built as TestServerPath builds the test server.
func LineRelayPath(tb testing.TB) string {
	tb.Helper()
	path, err := lineRelay()
	if err != nil {
		tb.Fatalf("building linerelay: %v", err)
	}
	return path
}

// GoCommand returns the path of the command pkg of the module graph (a
// go-sdk example server, say), built once per test binary as name.
func GoCommand(tb testing.TB, pkg, name string) string {
	tb.Helper()
	goBuildsMu.Lock()
	defer goBuildsMu.Unlock()
	if path, ok := goBuilds[pkg]; ok {
		return path
	}
	path, err := buildTool(pkg, name)
	if err != nil {
		tb.Fatalf("building %s: %v", pkg, err)
	}
	goBuilds[pkg] = path
	return path
}

var (
	goBuildsMu sync.Mutex
	goBuilds   = map[string]string{}
)

// buildTool builds the command pkg into a directory of its own under
// os.TempDir, as name.
func buildTool(pkg, name string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "mcpmux-"+name+"-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, name)
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot walks up from the working directory to the directory holding
// go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}
