package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry"
)

// floodCalls is how many calls the flood sends: as many as issue 25's
// reviewer sends.
const floodCalls = 100_000

// TestStdioFlood sends 100,000 calls to a tool that never answers, from
// one stdio session, with a ping and a call to another upstream in the
// middle: every call past the bound is answered at once with the error
// that says so, the ping and the other call are answered, and mcpmux (the
// binary built without -race, whose memory is its own) never holds more
// than 100 MB.
func TestStdioFlood(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads mcpmux's peak memory from /proc, which only Linux has")
	}
	cfg := writeConfig(t, map[string]any{
		"slow":  testutil.TestServer(t, "-name", "slow"),
		"other": testutil.TestServer(t, "-name", "other"),
	})
	cmd := exec.Command(testutil.BuildMcpmuxNoRace(t), "serve", "--config", cfg, "--data-dir", t.TempDir())
	stderr := &testutil.SyncBuffer{}
	cmd.Env = append(os.Environ(), "MCPMUX_LOG_LEVEL=warn")
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	procs := trackDescendants(cmd.Process.Pid, exited)
	waited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(waited) }()
	t.Cleanup(func() {
		in.Close()
		select {
		case <-waited:
		case <-time.After(testutil.WaitTimeout):
			t.Errorf("mcpmux did not exit within %s of its stdin closing", testutil.WaitTimeout)
			_ = cmd.Process.Signal(syscall.SIGQUIT) // its goroutines, on stderr
			<-waited
		}
		close(exited)
		if left := procs.killSurvivors(2 * time.Second); left != "" {
			t.Errorf("processes outlived mcpmux:\n%s", left)
		}
		if t.Failed() {
			t.Logf("mcpmux stderr:\n%.4000s", stderr.String())
		}
	})
	w := bufio.NewWriterSize(in, 1<<16)
	r := bufio.NewReaderSize(out, 1<<20)
	roundTrip := func(id, line string) []byte {
		t.Helper()
		fmt.Fprintln(w, line)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		for {
			msg, err := r.ReadBytes('\n')
			if err != nil {
				t.Fatalf("reading mcpmux's answer to %s: %v", id, err)
			}
			if bytes.Contains(msg, []byte(`"id":`+id)) {
				return msg
			}
		}
	}
	roundTrip(`"init"`, `{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"flood","version":"1"}}}`)
	fmt.Fprintln(w, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if got := roundTrip(`"list"`, `{"jsonrpc":"2.0","id":"list","method":"tools/list"}`); !bytes.Contains(got, []byte(`"slow__hang"`)) || !bytes.Contains(got, []byte(`"other__echo"`)) {
		t.Fatalf("tools/list = %.300s", got)
	}

	// The flood, written while the answers are read.
	writeErr := make(chan error, 1)
	go func() {
		for i := range floodCalls {
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"slow__hang","arguments":{}}}`+"\n", i)
			if i == floodCalls/2 {
				fmt.Fprintln(w, `{"jsonrpc":"2.0","id":"ping","method":"ping"}`)
				fmt.Fprintln(w, `{"jsonrpc":"2.0","id":"echo","method":"tools/call","params":{"name":"other__echo","arguments":{"message":"during the flood"}}}`)
			}
		}
		writeErr <- w.Flush()
	}()
	waiting := registry.DefaultMaxInFlight * 3 / 4 // one upstream's share
	busy, answered := 0, map[string]string{}
	for busy < floodCalls-waiting || len(answered) < 2 {
		line, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatalf("reading answers: %v, after %d refusals and %v", err, busy, answered)
		}
		var m struct {
			ID     json.RawMessage
			Result json.RawMessage
			Error  *jsonrpc.Error
		}
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("mcpmux wrote %.200q: %v", line, err)
		}
		switch id := string(m.ID); {
		case id == `"ping"` || id == `"echo"`:
			answered[id] = string(line)
		case m.Error != nil && m.Error.Code == jsonrpc.CodeBusy:
			if n, _ := strconv.Atoi(id); n < waiting {
				t.Fatalf("call %s refused, but only %d were in flight before it: %s", id, n, line)
			}
			busy++
		default:
			t.Fatalf("unexpected answer during the flood: %.300s", line)
		}
	}
	if err := <-writeErr; err != nil {
		t.Fatalf("writing the flood: %v", err)
	}
	if got := answered[`"ping"`]; !strings.Contains(got, `"result":{}`) {
		t.Errorf("ping during the flood = %s", got)
	}
	if got := answered[`"echo"`]; !strings.Contains(got, `"during the flood"`) {
		t.Errorf("other__echo during the flood = %s", got)
	}
	peak := peakRSS(t, cmd.Process.Pid)
	t.Logf("%d calls: %d refused at once, %d waiting on the hanging tool; mcpmux's peak RSS %.1f MB", floodCalls, busy, waiting, float64(peak)/(1<<20))
	if peak >= 100<<20 {
		t.Errorf("mcpmux's peak RSS = %.1f MB, want under 100 MB", float64(peak)/(1<<20))
	}
	// Still serving, and the calls in flight end with the session.
	if got := roundTrip(`"after"`, `{"jsonrpc":"2.0","id":"after","method":"tools/call","params":{"name":"other__echo","arguments":{"message":"after"}}}`); !bytes.Contains(got, []byte(`"after"`)) {
		t.Errorf("a call after the flood = %s", got)
	}
	// The calls still waiting are answered with an error as the session
	// ends: a client reads them (as a pipeline would).
	go func() { _, _ = io.Copy(io.Discard, r) }()
}

// peakRSS returns the peak resident memory of process pid (VmHWM), in
// bytes.
func peakRSS(tb testing.TB, pid int) int64 {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				tb.Fatalf("reading VmHWM %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	tb.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
