package bench

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// client is a lean JSON-RPC client over a pair of pipes: it writes each
// request in one write and finds a response's id with the allocation-free
// scanner, so that what a benchmark counts (time, allocations, CPU) is
// the target's, not the client's. It is not safe for concurrent use;
// calls in flight are kept by one goroutine (see pipeline).
type client struct {
	tb  testing.TB
	w   io.WriteCloser
	r   *bufio.Reader
	out []byte // the request being written
	in  []byte // a line longer than r's buffer, collected
	id  int64
}

func newClient(tb testing.TB, w io.WriteCloser, r io.Reader) *client {
	return &client{tb: tb, w: w, r: bufio.NewReaderSize(r, 1<<20)}
}

// send writes one request with params (a JSON object, or "" for none) and
// returns its id.
func (c *client) send(method, params string) int64 {
	c.id++
	b := append(c.out[:0], `{"jsonrpc":"2.0","id":`...)
	b = strconv.AppendInt(b, c.id, 10)
	b = append(b, `,"method":"`...)
	b = append(b, method...)
	b = append(b, '"')
	if params != "" {
		b = append(b, `,"params":`...)
		b = append(b, params...)
	}
	b = append(b, "}\n"...)
	c.out = b
	if _, err := c.w.Write(b); err != nil {
		c.tb.Fatalf("writing %s: %v", method, err)
	}
	return c.id
}

// notify writes one notification without params.
func (c *client) notify(method string) {
	if _, err := io.WriteString(c.w, `{"jsonrpc":"2.0","method":"`+method+`"}`+"\n"); err != nil {
		c.tb.Fatalf("writing %s: %v", method, err)
	}
}

var responseKeys = []string{"id", "method", "result", "error"}

// next reads messages until a response, skipping notifications, and
// returns its id and result. An error response fails the benchmark. The
// result is valid until the next read.
func (c *client) next() (int64, []byte) {
	for {
		line := c.line()
		var sp [4]jsonrpc.Span
		if err := jsonrpc.Scan(line, responseKeys, sp[:]); err != nil {
			c.tb.Fatalf("reading a response: %v: %.200s", err, line)
		}
		if sp[1].Found() {
			if sp[0].Found() {
				c.tb.Fatalf("the target sent a request, which benchmarks do not answer: %.200s", line)
			}
			continue // a notification
		}
		if sp[3].Found() || !sp[2].Found() {
			c.tb.Fatalf("error response: %.300s", line)
		}
		id, ok := parseID(sp[0].In(line))
		if !ok {
			c.tb.Fatalf("response with an id this client never sent: %.200s", line)
		}
		return id, sp[2].In(line)
	}
}

// line reads one line without its newline.
func (c *client) line() []byte {
	frag, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		c.in = append(c.in[:0], frag...)
		for errors.Is(err, bufio.ErrBufferFull) {
			frag, err = c.r.ReadSlice('\n')
			c.in = append(c.in, frag...)
		}
		frag = c.in
	}
	if err != nil {
		c.tb.Fatalf("reading from the target: %v", err)
	}
	return bytes.TrimSpace(frag)
}

// parseID reads a non-negative integer id without allocating.
func parseID(raw []byte) (int64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	var n int64
	for _, d := range raw {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int64(d-'0')
	}
	return n, true
}

// call sends one request and waits for its response; it returns the raw
// result, valid until the next read.
func (c *client) call(method, params string) []byte {
	id := c.send(method, params)
	got, res := c.next()
	if got != id {
		c.tb.Fatalf("%s: response to id %d, want %d", method, got, id)
	}
	return res
}

// initialize performs the handshake.
func (c *client) initialize() {
	c.call("initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}`)
	c.notify("notifications/initialized")
}

// pipeline keeps window requests in flight: it sends window, then one more
// each time a response arrives, calling each(n) after the n-th response,
// until each returns false; then it reads the responses still due.
func (c *client) pipeline(window int, method, params string, each func() bool) {
	for range window {
		c.send(method, params)
	}
	for {
		c.next()
		if !each() {
			break
		}
		c.send(method, params)
	}
	for range window - 1 {
		c.next()
	}
}

// mustContain fails the benchmark unless res contains want.
func mustContain(tb testing.TB, res []byte, want string) {
	tb.Helper()
	if !bytes.Contains(res, []byte(want)) {
		tb.Fatalf("result %.300s does not contain %q", res, want)
	}
}
