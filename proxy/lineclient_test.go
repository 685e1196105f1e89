package proxy_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineClient speaks to mcpmux in raw JSON-RPC lines, for the tests that
// send what no well-behaved client would.
type lineClient struct {
	tb testing.TB
	w  io.WriteCloser

	mu      sync.Mutex
	cond    *sync.Cond
	lines   []string // received, not yet taken
	readErr error
}

func newLineClient(tb testing.TB, r io.Reader, w io.WriteCloser) *lineClient {
	c := &lineClient{tb: tb, w: w}
	c.cond = sync.NewCond(&c.mu)
	go func() {
		br := bufio.NewReaderSize(r, 1<<20)
		for {
			line, err := br.ReadString('\n')
			c.mu.Lock()
			if line != "" {
				c.lines = append(c.lines, strings.TrimSuffix(line, "\n"))
			}
			if err != nil {
				c.readErr = err
			}
			c.cond.Broadcast()
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return c
}

// send writes one line.
func (c *lineClient) send(line string) {
	c.tb.Helper()
	if _, err := io.WriteString(c.w, line+"\n"); err != nil {
		c.tb.Fatalf("writing %.100q: %v", line, err)
	}
}

// wireMsg is a received message, its members raw.
type wireMsg struct {
	line   string
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"error"`
}

// take returns the first received message that match accepts, waiting
// for it; messages before it stay for later takes.
func (c *lineClient) take(match func(wireMsg) bool) wireMsg {
	c.tb.Helper()
	deadline := time.AfterFunc(30*time.Second, func() {
		c.mu.Lock()
		c.readErr = errors.New("no such message within 30s")
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer deadline.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for i, line := range c.lines {
			var m wireMsg
			if json.Unmarshal([]byte(line), &m) != nil {
				c.tb.Fatalf("mcpmux wrote a line that is not JSON: %.200q", line)
			}
			m.line = line
			if match(m) {
				c.lines = append(c.lines[:i:i], c.lines[i+1:]...)
				return m
			}
		}
		if c.readErr != nil {
			c.tb.Fatalf("waiting for a message: %v (have %d others)", c.readErr, len(c.lines))
		}
		c.cond.Wait()
	}
}

// response returns the response with the raw id (as written).
func (c *lineClient) response(id string) wireMsg {
	c.tb.Helper()
	return c.take(func(m wireMsg) bool { return m.Method == "" && string(m.ID) == id })
}

// roundTrip sends a request with the raw id and returns its response.
func (c *lineClient) roundTrip(id, line string) wireMsg {
	c.tb.Helper()
	c.send(line)
	return c.response(id)
}

// rest returns the lines received and not taken.
func (c *lineClient) rest() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string{}, c.lines...)
}

// handshake initializes the session as a 2025-11-25 client.
func (c *lineClient) handshake() {
	c.tb.Helper()
	r := c.roundTrip(`"init"`, `{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"lines","version":"1"}}}`)
	if r.Error != nil {
		c.tb.Fatalf("initialize: %+v", r.Error)
	}
	c.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
}
