package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// lineTimeout bounds every wait for a line from the server: a guard
// against a hang, never a limit on how fast the server must be. A big
// message costs the server seconds of CPU on a loaded machine (12 MiB of
// JSON decoded and encoded twice took over 10s at load 20).
const lineTimeout = testutil.WaitTimeout

// proc is a running testserver driven over raw JSON-RPC on its stdio.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan []byte // stdout lines; closed at EOF
	quit   chan struct{}
	stderr testutil.SyncBuffer
	nextID int
}

// rpcMessage is any message from the server, as seen by a test.
type rpcMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// start runs the test server with args and extra environment variables.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, lines: make(chan []byte, 64), quit: make(chan struct{}), nextID: 1}
	p.cmd = exec.Command(testutil.TestServerPath(t), args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = &p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go p.readLines(stdout)
	t.Cleanup(p.stop)
	return p
}

func (p *proc) readLines(stdout io.Reader) {
	defer close(p.lines)
	br := bufio.NewReader(stdout)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			select {
			case p.lines <- bytes.TrimSuffix(line, []byte("\n")):
			case <-p.quit:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// stop closes stdin and waits for the server to exit, killing it if needed.
func (p *proc) stop() {
	close(p.quit)
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	if p.t.Failed() {
		p.t.Logf("server stderr:\n%s", p.stderr.String())
	}
}

// exitCode waits for the server to exit on its own and returns its code.
func (p *proc) exitCode() int {
	p.t.Helper()
	timeout := time.After(lineTimeout)
	for {
		select {
		case _, ok := <-p.lines:
			if ok {
				continue
			}
			var exitErr *exec.ExitError
			if err := p.cmd.Wait(); errors.As(err, &exitErr) {
				return exitErr.ExitCode()
			} else if err != nil {
				p.t.Fatal(err)
			}
			return 0
		case <-timeout:
			p.t.Fatal("server did not exit")
		}
	}
}

func (p *proc) sendRaw(line []byte) {
	p.t.Helper()
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		p.t.Fatalf("writing to server: %v", err)
	}
}

func (p *proc) send(msg any) {
	p.t.Helper()
	line, err := json.Marshal(msg)
	if err != nil {
		p.t.Fatal(err)
	}
	p.sendRaw(line)
}

// next returns the next stdout line.
func (p *proc) next() []byte {
	p.t.Helper()
	select {
	case line, ok := <-p.lines:
		if !ok {
			p.t.Fatal("server closed stdout")
		}
		return line
	case <-time.After(lineTimeout):
		p.t.Fatal("timed out waiting for a line from the server")
	}
	return nil
}

// request sends a request with a fresh numeric id and returns the id.
func (p *proc) request(method string, params any) json.RawMessage {
	p.t.Helper()
	id := json.RawMessage(mustJSON(p.nextID))
	p.nextID++
	p.send(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	return id
}

func (p *proc) notify(method string, params any) {
	p.t.Helper()
	p.send(map[string]any{"jsonrpc": "2.0", "method": method, "params": params})
}

// awaitLine reads lines until the response to id and returns it and every
// line that came before it. Responses are recognised by their exact
// prefix, which also checks that the id is echoed byte for byte, without
// parsing (encoding/json is slow on big lines under -race).
func (p *proc) awaitLine(id json.RawMessage) ([]byte, [][]byte) {
	p.t.Helper()
	prefix := []byte(`{"jsonrpc":"2.0","id":` + string(id) + `,`)
	var before [][]byte
	for {
		line := p.next()
		if bytes.HasPrefix(line, prefix) && !bytes.HasPrefix(line[len(prefix):], []byte(`"method"`)) {
			return line, before
		}
		before = append(before, line)
	}
}

// await is awaitLine with the response decoded.
func (p *proc) await(id json.RawMessage) (rpcMessage, []byte, [][]byte) {
	p.t.Helper()
	line, before := p.awaitLine(id)
	var msg rpcMessage
	if err := json.Unmarshal(line, &msg); err != nil {
		p.t.Fatalf("bad response %.300s: %v", line, err)
	}
	return msg, line, before
}

// call sends a request and returns its successful result.
func (p *proc) call(method string, params any) json.RawMessage {
	p.t.Helper()
	msg, line, _ := p.await(p.request(method, params))
	if msg.Error != nil {
		p.t.Fatalf("%s: error response %s", method, line)
	}
	return msg.Result
}

// callError sends a request and returns its error code and message.
func (p *proc) callError(method string, params any) (int, string) {
	p.t.Helper()
	msg, line, _ := p.await(p.request(method, params))
	if msg.Error == nil {
		p.t.Fatalf("%s: expected an error, got %s", method, line)
	}
	return msg.Error.Code, msg.Error.Message
}

func (p *proc) initialize() {
	p.t.Helper()
	p.call("initialize", map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{}})
	p.notify("notifications/initialized", nil)
}

// tool calls a tool and returns the text of its first content block.
func (p *proc) tool(name string, args map[string]any) string {
	p.t.Helper()
	return resultText(p.t, p.call("tools/call", map[string]any{"name": name, "arguments": args}))
}

func resultText(t *testing.T, result json.RawMessage) string {
	t.Helper()
	var r struct {
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	if err := json.Unmarshal(result, &r); err != nil || len(r.Content) == 0 {
		t.Fatalf("no text content in %.300s", result)
	}
	return r.Content[0].Text
}
