// Package testutil holds helpers shared by mcpmux tests: building the
// internal/testserver binary (a configurable, hand-written MCP server that
// tests start as a real subprocess) and leak checks for child processes
// and goroutines, registered as test cleanups.
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

const testServerPackage = "github.com/mcpmux/mcpmux/internal/testserver"

// pollTimeout is how long the leak checks wait for things to settle.
var pollTimeout = 5 * time.Second

var testServer struct {
	once sync.Once
	path string
	err  error
}

// TestServerPath returns the path of the testserver binary, building it the
// first time it is called in this test binary. The binary lives in a
// directory under os.TempDir named mcpmux-testserver-*, kept for the whole
// test binary (and left behind afterwards). It fails tb if the build fails.
func TestServerPath(tb testing.TB) string {
	tb.Helper()
	testServer.once.Do(func() {
		testServer.path, testServer.err = buildTestServer()
	})
	if testServer.err != nil {
		tb.Fatalf("building testserver: %v", testServer.err)
	}
	return testServer.path
}

func buildTestServer() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "mcpmux-testserver-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "testserver")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	cmd := exec.Command("go", "build", "-o", bin, testServerPackage)
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

// poll calls cond until it returns true or pollTimeout passes, and
// returns its last answer.
func poll(cond func() bool) bool {
	deadline := time.Now().Add(pollTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
