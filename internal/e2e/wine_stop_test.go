//go:build linux

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// wineServe is `wine mcpmux.exe serve` with a line client on its stdin
// and stdout: the bytes a host would send, and nothing more.
type wineServe struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	answers chan int // the ids of the responses it writes
	exited  chan error
	stderr  func() string
}

// startWineServe starts mcpmux.exe serve on the box's configuration and
// initializes it.
func startWineServe(t *testing.T, w *wineBox) *wineServe {
	t.Helper()
	cmd := exec.Command("wine", w.exe(), "serve", "--config", w.config, "--data-dir", w.state, "--log-level", "debug")
	cmd.Env = w.env
	stderr, readStderr := wineOutput(t, "stderr")
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("wine mcpmux.exe serve: %v", err)
	}
	s := &wineServe{cmd: cmd, stdin: stdin, answers: make(chan int, 16), exited: make(chan error, 1), stderr: readStderr}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m struct {
				ID *int `json:"id"`
			}
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.ID != nil {
				s.answers <- *m.ID
			}
		}
		s.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("mcpmux.exe stderr:\n%s", s.stderr())
		}
	})
	s.send(t, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"wine-stop","version":"1"}}}`)
	s.await(t, 1)
	s.send(t, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return s
}

func (s *wineServe) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		t.Fatalf("writing to mcpmux.exe: %v", err)
	}
}

// await waits for the response with id.
func (s *wineServe) await(t *testing.T, id int) {
	t.Helper()
	timeout := time.After(testTimeout)
	for {
		select {
		case got := <-s.answers:
			if got == id {
				return
			}
		case err := <-s.exited:
			t.Fatalf("mcpmux.exe exited (%v) before answering request %d", err, id)
		case <-timeout:
			t.Fatalf("mcpmux.exe did not answer request %d within %s", id, testTimeout)
		}
	}
}

// call calls tool and waits for its answer.
func (s *wineServe) call(t *testing.T, id int, tool string) {
	t.Helper()
	s.send(t, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":{}}}`, id, tool))
	s.await(t, id)
}

// wait waits for mcpmux.exe to exit.
func (s *wineServe) wait(t *testing.T) {
	t.Helper()
	select {
	case <-s.exited:
	case <-time.After(testTimeout):
		t.Fatalf("mcpmux.exe did not exit within %s", testTimeout)
	}
}

// readLines returns the lines of the file path, none if it is missing.
func readLines(path string) []string {
	data, _ := os.ReadFile(path)
	return strings.Fields(strings.ReplaceAll(string(data), " ", "_"))
}

// TestWineStop: the stop of Windows upstreams that ignore their stdin's
// end goes past it, to CTRL_BREAK (which Wine cannot deliver, see below)
// and then TerminateJobObject, which ends them: none is left when
// mcpmux.exe has exited, cleanly. Then Ctrl+C: mcpmux.exe, sent SIGINT
// (which Wine hands it as CTRL_C_EVENT), stops cleanly, and its upstreams
// with it. A console's close cannot be made under Wine: SIGHUP and
// SIGTERM end the Wine process outright, as TerminateProcess would (the
// kill -9 case of TestWine covers what is left then).
func TestWineStop(t *testing.T) {
	w := newWineBox(t)
	logs := filepath.Join(w.dir, "interrupts")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	obeys, deaf := filepath.Join(logs, "obeys.log"), filepath.Join(logs, "deaf.log")
	// -freeze-after 1: once they have answered a call, they ignore their
	// stdin's end, so that only the later steps can stop them.
	w.writeConfig(t, map[string]any{
		"obeys": map[string]any{"command": "testserver.exe", "args": []string{"-name", "obeys", "-freeze-after", "1", "-interrupts", winPath(obeys)}},
		"deaf":  map[string]any{"command": "testserver.exe", "args": []string{"-name", "deaf", "-freeze-after", "1", "-interrupts", winPath(deaf), "-ignore-interrupt"}},
	})

	t.Run("ctrl-break-then-job", func(t *testing.T) {
		s := startWineServe(t, w)
		s.call(t, 2, "obeys__whoami")
		s.call(t, 3, "deaf__whoami")
		if n := len(w.upstreams()); n != 2 {
			t.Fatalf("%d upstream processes before the stop, want 2: %v", n, w.upstreams())
		}
		_ = s.stdin.Close() // the host goes away
		s.wait(t)
		if left := w.upstreams(); len(left) > 0 {
			t.Errorf("upstreams alive after mcpmux.exe exited: %v", left)
		}
		if !strings.Contains(s.stderr(), "mcpmux stopped") {
			t.Errorf("mcpmux.exe did not stop cleanly when its stdin closed")
		}
		// Wine 8's GenerateConsoleCtrlEvent fails for a process group
		// ("Invalid access" without a console, "Invalid handle" with one):
		// no CTRL_BREAK reaches a child under Wine, so both servers were
		// ended by the last step, TerminateJobObject, which is what this
		// proves. On Windows the one that obeys stops at CTRL_BREAK.
		got := readLines(obeys)
		if len(got) == 0 {
			t.Log("no CTRL_BREAK reached the upstream (Wine does not deliver it): TerminateJobObject ended both")
		} else if !strings.HasPrefix(got[0], "interrupt_") {
			t.Errorf("the server that obeys CTRL_BREAK recorded %q", got)
		}
		if got := readLines(deaf); len(got) > 1 {
			t.Errorf("the server that ignores CTRL_BREAK recorded %q, want at most one interrupt", got)
		}
	})

	t.Run("ctrl-c", func(t *testing.T) {
		for _, f := range []string{obeys, deaf} {
			_ = os.Remove(f)
		}
		s := startWineServe(t, w)
		s.call(t, 2, "obeys__whoami")
		s.call(t, 3, "deaf__whoami")
		if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		select {
		case <-s.exited:
		case <-ctx.Done():
			t.Fatalf("mcpmux.exe did not stop on SIGINT (Ctrl+C) within %s", testTimeout)
		}
		if !strings.Contains(s.stderr(), "mcpmux stopped") {
			t.Errorf("mcpmux.exe did not stop cleanly on Ctrl+C:\n%s", s.stderr())
		}
		testutil.WaitFor(t, "no upstream left", func() bool { return len(w.upstreams()) == 0 })
	})
}
