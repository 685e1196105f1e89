package proxy_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/internal/testutil"
)

// callLine is a tools/call of tool with the raw id and message.
func callLine(id, tool, message string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":%q,"arguments":{"message":%q}}}`, id, tool, message)
}

// TestInFlightBound: past the session's bound, a request is refused at
// once with CodeBusy, and reaches no upstream; one upstream may hold 3/4
// of the bound, so that another stays reachable; ping is answered however
// busy the session; an answer frees room for the next request.
func TestInFlightBound(t *testing.T) {
	logA := filepath.Join(t.TempDir(), "a.log")
	m := rawMux(t, map[string]any{
		"a": testutil.TestServer(t, "-name", "a", "-log-file", logA),
		"b": testutil.TestServer(t, "-name", "b"),
	}, muxOptions{inFlight: 8}) // 6 may wait on one upstream
	c := m.lines
	testutil.WaitFor(t, "both upstreams' tools", func() bool {
		r := c.roundTrip(`"l"`, `{"jsonrpc":"2.0","id":"l","method":"tools/list"}`)
		return strings.Contains(r.line, `"a__hang"`) && strings.Contains(r.line, `"b__hang"`)
	})
	for i := range 20 {
		c.send(callLine(fmt.Sprintf(`"a%d"`, i), "a__hang", ""))
	}
	for i := 6; i < 20; i++ {
		busy(t, c.response(fmt.Sprintf(`"a%d"`, i)), `upstream "a"`)
	}
	if r := c.roundTrip(`"p1"`, `{"jsonrpc":"2.0","id":"p1","method":"ping"}`); string(r.Result) != "{}" {
		t.Errorf("ping during the flood = %s, want {}", r.line)
	}
	if r := c.roundTrip(`"e1"`, callLine(`"e1"`, "b__echo", "other upstream")); !strings.Contains(r.line, `"other upstream"`) {
		t.Errorf("b__echo during the flood = %s", r.line)
	}
	c.send(callLine(`"b1"`, "b__hang", ""))
	c.send(callLine(`"b2"`, "b__hang", ""))
	busy(t, c.roundTrip(`"b3"`, callLine(`"b3"`, "b__hang", "")), "this session has 8")
	busy(t, c.roundTrip(`"e2"`, callLine(`"e2"`, "b__echo", "")), "maxInFlight 8")
	if r := c.roundTrip(`"p2"`, `{"jsonrpc":"2.0","id":"p2","method":"ping"}`); string(r.Result) != "{}" {
		t.Errorf("ping with the session full = %s, want {}", r.line)
	}
	c.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"b1"}}`)
	testutil.WaitFor(t, "room after a cancellation", func() bool {
		r := c.roundTrip(`"e3"`, callLine(`"e3"`, "b__echo", "after"))
		return strings.Contains(r.line, `"after"`)
	})
	testutil.WaitFor(t, "the 6 admitted calls at a", func() bool { return testutil.CountInFile(logA, `"name":"hang"`) >= 6 })
	if n := testutil.CountInFile(logA, `"name":"hang"`); n != 6 {
		t.Errorf("upstream a got %d calls of hang, want the 6 admitted", n)
	}
}

// busy fails the test unless r is the error that refuses a request past
// a bound, saying want.
func busy(tb testing.TB, r wireMsg, want string) {
	tb.Helper()
	if r.Error == nil || r.Error.Code != jsonrpc.CodeBusy || !strings.Contains(r.Error.Message, want) {
		tb.Errorf("response = %s, want error %d saying %q", r.line, jsonrpc.CodeBusy, want)
	}
}

// TestMaxConcurrencyFIFO: an upstream with "maxConcurrency": 1 gets one
// call at a time; the others wait, and reach it in the order they came.
// A queued call that the client cancels never reaches it.
func TestMaxConcurrencyFIFO(t *testing.T) {
	logQ := filepath.Join(t.TempDir(), "q.log")
	q := testutil.TestServer(t, "-name", "q", "-log-file", logQ)
	q["maxConcurrency"] = 1
	m := rawMux(t, map[string]any{"q": q}, muxOptions{})
	c := m.lines
	testutil.WaitFor(t, "q's tools", func() bool {
		r := c.roundTrip(`"l"`, `{"jsonrpc":"2.0","id":"l","method":"tools/list"}`)
		return strings.Contains(r.line, `"q__hang"`)
	})
	c.send(callLine(`"h"`, "q__hang", ""))
	testutil.WaitFor(t, "the hanging call at q", func() bool { return testutil.CountInFile(logQ, `"name":"hang"`) == 1 })
	queued := []string{"B", "C", "X", "D", "E"}
	for i, msg := range queued {
		c.send(callLine(`"`+msg+`"`, "q__echo", msg))
		testutil.WaitFor(t, "the call queued", func() bool { return m.sups["q"].Status().Queued == i+1 })
	}
	c.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"X"}}`)
	testutil.WaitFor(t, "the cancelled call out of the queue", func() bool { return m.sups["q"].Status().Queued == len(queued)-1 })
	c.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"h"}}`)
	for _, msg := range []string{"B", "C", "D", "E"} {
		if r := c.response(`"` + msg + `"`); !strings.Contains(r.line, `"text":"`+msg+`"`) {
			t.Errorf("call %s = %s", msg, r.line)
		}
	}
	if got, want := receivedCalls(t, logQ), []string{"hang", "echo B", "echo C", "echo D", "echo E"}; !slices.Equal(got, want) {
		t.Errorf("q received %q, want %q", got, want)
	}
	for _, line := range c.rest() {
		if strings.Contains(line, `"id":"X"`) {
			t.Errorf("the cancelled call was answered: %s", line)
		}
	}
}

// receivedCalls returns the tools/call a test server logged, in the order
// it received them: the tool's name, and its message if it has one.
func receivedCalls(tb testing.TB, path string) []string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e struct {
			Method string
			Params struct {
				Name      string
				Arguments struct{ Message string }
			}
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Method != "tools/call" {
			continue
		}
		out = append(out, strings.TrimSpace(e.Params.Name+" "+e.Params.Arguments.Message))
	}
	return out
}
