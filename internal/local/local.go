// Package local is an MCP client of an mcpmux running in the same
// process: it serves a [mux.Mux] on a pair of pipes and speaks to it as a
// host would, so that the commands that list or call (mcpmux tools, call,
// doctor) see exactly what a client sees, through the same code.
//
// The client declares no capabilities of its own; requests the upstreams
// send to it (sampling, elicitation, roots) get an error, so that none of
// them waits.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/internal/mux"
)

// ProtocolVersion is the revision the client speaks.
const ProtocolVersion = "2025-11-25"

// ErrClosed fails the requests of a closed client.
var ErrClosed = errors.New("mcpmux stopped")

// Client is one session with an in-process mcpmux.
type Client struct {
	toServer   *io.PipeWriter
	fromServer *io.PipeReader
	served     chan error // m.Run's result
	read       chan struct{}

	writeMu sync.Mutex // serializes writes to toServer

	mu      sync.Mutex
	nextID  int
	pending map[string]chan *jsonrpc.Message
	closed  bool
}

// Start serves m to a new client and initializes the session. ctx bounds
// the whole session: when it ends, m stops.
func Start(ctx context.Context, m *mux.Mux) (*Client, error) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &Client{toServer: inW, fromServer: outR, served: make(chan error, 1), read: make(chan struct{}),
		pending: make(map[string]chan *jsonrpc.Message)}
	go func() {
		err := m.Run(ctx, inR, outW)
		outW.Close()
		inR.Close()
		c.served <- err
	}()
	go c.readLoop()
	params := map[string]any{
		"protocolVersion": ProtocolVersion,
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "mcpmux-cli", "version": "1"},
	}
	if _, err := c.Request(ctx, "initialize", params); err != nil {
		c.Close()
		return nil, fmt.Errorf("initializing: %w", err)
	}
	if err := c.write(jsonrpc.AppendNotification(nil, "notifications/initialized", nil)); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Request sends a request and waits for its result, within ctx. An error
// response is returned as a *jsonrpc.Error.
func (c *Client) Request(ctx context.Context, method string, params any) (json.RawMessage, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("encoding the params of %s: %w", method, err)
	}
	if params == nil {
		raw = nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.nextID++
	id := strconv.Itoa(c.nextID)
	reply := make(chan *jsonrpc.Message, 1)
	c.pending[id] = reply
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	if err := c.write(jsonrpc.AppendRequest(nil, json.RawMessage(id), method, raw)); err != nil {
		return nil, err
	}
	select {
	case m, ok := <-reply:
		if !ok {
			return nil, ErrClosed
		}
		if m.Error != nil {
			return nil, m.Error
		}
		return m.Result, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// List returns the entries of a list (method "tools/list", field
// "tools"), every page of it.
func (c *Client) List(ctx context.Context, method, field string) ([]json.RawMessage, error) {
	var all []json.RawMessage
	cursor := ""
	for range 10000 { // a bound, should pages never end
		var params any
		if cursor != "" {
			params = map[string]string{"cursor": cursor}
		}
		res, err := c.Request(ctx, method, params)
		if err != nil {
			return all, err
		}
		var page map[string]json.RawMessage
		if err := json.Unmarshal(res, &page); err != nil {
			return all, fmt.Errorf("decoding %s: %w", method, err)
		}
		var entries []json.RawMessage
		if raw, ok := page[field]; ok {
			if err := json.Unmarshal(raw, &entries); err != nil {
				return all, fmt.Errorf("decoding %s: %q: %w", method, field, err)
			}
		}
		all = append(all, entries...)
		if err := json.Unmarshal(page["nextCursor"], &cursor); err != nil || cursor == "" {
			return all, nil
		}
	}
	return all, fmt.Errorf("%s: too many pages", method)
}

// Close ends the session and waits until mcpmux has stopped every
// upstream; it returns what serving returned. It may be called more than
// once.
func (c *Client) Close() error {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	c.toServer.Close()
	if already {
		return nil
	}
	err := <-c.served
	<-c.read
	return err
}

func (c *Client) write(line []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if _, err := c.toServer.Write(append(line, '\n')); err != nil {
		return ErrClosed
	}
	return nil
}

// readLoop hands each response to its request, refuses the upstreams'
// requests, and drops notifications.
func (c *Client) readLoop() {
	defer close(c.read)
	defer c.fail()
	r := jsonrpc.NewReader(c.fromServer, 0)
	for {
		line, err := r.Next()
		if jsonrpc.AsTooLarge(err) != nil {
			continue
		}
		if err != nil {
			return
		}
		m, rpcErr := jsonrpc.Decode(line)
		switch {
		case rpcErr != nil:
		case m.IsRequest():
			refusal := jsonrpc.Errorf(-32601, "the mcpmux command line cannot answer %s", m.Method)
			go c.write(jsonrpc.AppendError(nil, m.ID, refusal)) //nolint:errcheck // the session may be over
		case m.IsResponse():
			c.mu.Lock()
			reply := c.pending[string(m.ID)]
			c.mu.Unlock()
			if reply != nil {
				msg := m
				reply <- &msg
			}
		}
	}
}

// fail ends every request still waiting.
func (c *Client) fail() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for id, reply := range c.pending {
		close(reply)
		delete(c.pending, id)
	}
}
