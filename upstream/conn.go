package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/registry"
)

// conn is one live connection to an upstream, the MCP session from the
// handshake to its death: it sends mcpmux's requests and matches their
// answers, hands on what the upstream sends (see dispatch), and dies once,
// for one reason, failing every request in flight. A conn is never reused;
// the [Supervisor] makes a new one for every attempt. Everything the
// protocol says lives here; the two halves it is built from are the
// upstream's business:
//
//   - its transport (tr) moves messages: [stdioTransport] over a child's
//     pipes, [streamableTransport] or [sseTransport] over HTTP;
//   - its peer says what the upstream's kind means for the connection: how
//     a transport error reads, how long a death takes to explain itself,
//     how the upstream is ended ([stdioPeer] owns the child [process],
//     [remotePeer] the HTTP client).
//
// What the upstream sends reaches dispatch from the reader of the child's
// stdout (stdioPeer) or of an HTTP response (the remote transports), which
// answer through their [replier].
type conn struct {
	tr        transport
	peer      peer
	logger    *slog.Logger
	notify    func(method string, params json.RawMessage) // never blocks
	notes     *noteQueue                                  // notify's, over stdio: responses wait behind it (see deliverInOrder)
	onRequest func(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error)
	life      context.Context // ends when the connection dies
	endLife   context.CancelFunc
	in        incomingRequests

	init         initResult
	nextID       atomic.Int64
	garbageLines atomic.Int64 // lines that were not JSON-RPC messages

	done      chan struct{} // closed when the connection is dead
	deathOnce sync.Once
	deathErr  error         // why the connection died; set before done closes
	shut      chan struct{} // closed once the transport is closed and the peer released

	sendsMu   sync.Mutex
	sends     int           // cancellations being sent off the caller's path
	sendsIdle chan struct{} // closed when sends falls to zero, if someone waits
}

// peer is the upstream at the far end of a conn, as far as the conn must
// know it beyond moving messages: a child process ([stdioPeer]) or an HTTP
// server ([remotePeer]). Its methods are safe for concurrent use.
type peer interface {
	// fatal returns why err, the transport's error for a request or a
	// notification, shows the connection to be dead, or nil if it does
	// not (the connection lives on); unsent reports that the message
	// cannot have reached the upstream, so it may be sent again.
	fatal(err error) (reason error, unsent bool)
	// deathGrace is how long a failed request waits for the connection to
	// die of a cause the peer learns of separately and that explains the
	// failure better: a child's exit status follows its closed stdout.
	deathGrace() time.Duration
	// explain makes a transport error fit for a log line or a client:
	// without secrets, with a hint where one helps.
	explain(err error) error
	// release frees what the closed transport leaves behind. It is called
	// once, after the connection died.
	release()
	// stop ends the upstream's process, if there is one, and waits until it
	// has been reaped; ctx cuts the grace periods short.
	stop(ctx context.Context)
	// leave lets go of the upstream's process, if there is one, without
	// waiting for it: its stdin is closed, and Options.Groups, which holds
	// its group, ends it (see Supervisor.HandOff).
	leave()
	// pid is the process id of the upstream's child; 0 if there is none.
	pid() int
}

// initResult is what the upstream said about itself in the handshake.
type initResult struct {
	ProtocolVersion string          `json:"protocolVersion"`
	Capabilities    json.RawMessage `json:"capabilities"`
	ServerInfo      json.RawMessage `json:"serverInfo"`
	Instructions    string          `json:"instructions,omitempty"`
}

// Handshake is what an upstream said about itself in the handshake, as
// it sent it.
type Handshake struct {
	ProtocolVersion string
	ServerInfo      json.RawMessage
	Capabilities    json.RawMessage
	// Instructions are the upstream's usage instructions, if any: text for
	// the model, unchecked.
	Instructions string
}

func (r initResult) handshake() Handshake {
	return Handshake{ProtocolVersion: r.ProtocolVersion, ServerInfo: r.ServerInfo, Capabilities: r.Capabilities, Instructions: r.Instructions}
}

// newConn returns a connection to the upstream srv over tr and l,
// reporting its notifications to notify.
func newConn(tr transport, l peer, srv *registry.Server, o *Options, notify func(string, json.RawMessage)) *conn {
	life, endLife := context.WithCancel(context.Background())
	return &conn{
		tr:        tr,
		peer:      l,
		logger:    o.logger(),
		notify:    notify,
		onRequest: o.request(srv.Name),
		life:      life,
		endLife:   endLife,
		in:        incomingRequests{max: o.maxIncoming(), timeout: srv.RequestTimeout(), cancels: map[string]context.CancelFunc{}},
		done:      make(chan struct{}),
		shut:      make(chan struct{}),
	}
}

// die marks the connection dead for reason and fails every request in
// flight at once. Only the first reason counts. It never blocks: the
// transport is closed on a goroutine that close waits for, because ending
// a streamable HTTP session takes a request of its own.
func (c *conn) die(reason error) {
	c.deathOnce.Do(func() {
		c.deathErr = reason
		close(c.done)
		c.endLife()
		go func() {
			defer close(c.shut)
			_ = c.tr.close()
			c.peer.release()
		}()
	})
}

// close stops the connection and, for a stdio upstream, its child, and
// waits until the transport is closed and the child has been reaped.
func (c *conn) close(ctx context.Context) {
	// A client that leaves cancels its calls just before mcpmux stops:
	// those cancellations are on their way and must not lose the race.
	c.waitSends(ctx, cancelDrain)
	c.die(errors.New("connection closed by mcpmux"))
	<-c.shut
	c.peer.stop(ctx)
}

// handOff ends the connection without waiting for the upstream: mcpmux is
// exiting (see Supervisor.HandOff). Cancellations on their way get a
// moment; the transport closes, and the child is left to the keeper, on
// their own.
func (c *conn) handOff() {
	c.waitSends(context.Background(), handOffDrain)
	c.die(errors.New("connection handed off by an exiting mcpmux"))
	c.peer.leave()
}

// handshake performs MCP's initialize exchange. mcpmux speaks the
// handshake-based revisions to its upstreams, which every server supports.
func (c *conn) handshake(ctx context.Context, clientInfo mcp.Implementation, caps json.RawMessage) error {
	if err := c.start(ctx); err != nil {
		return fmt.Errorf("starting transport: %w", c.peer.explain(err))
	}
	if jsonrpc.IsNull(caps) {
		caps = json.RawMessage("{}")
	}
	params, err := json.Marshal(map[string]any{
		"protocolVersion": mcp.LATEST_LEGACY_PROTOCOL_VERSION,
		"capabilities":    caps,
		"clientInfo":      clientInfo,
	})
	if err != nil {
		return err
	}
	raw, err := c.request(ctx, "initialize", params)
	if err != nil {
		return fmt.Errorf("initializing: %w", err)
	}
	if err := json.Unmarshal(raw, &c.init); err != nil {
		return fmt.Errorf("decoding initialize result: %w", err)
	}
	if !mcp.IsValidProtocolVersion(c.init.ProtocolVersion) {
		return fmt.Errorf("initializing: unsupported protocol version %q", c.init.ProtocolVersion)
	}
	if n, ok := c.tr.(negotiator); ok {
		if err := n.negotiated(ctx, c.init.ProtocolVersion); err != nil {
			return fmt.Errorf("opening the listening stream: %w", c.peer.explain(err))
		}
	}
	return c.sendNotification(ctx, "notifications/initialized", nil)
}

// start starts the transport for the life of the connection: SSE's event
// stream runs on the context Start is given. ctx bounds only the start
// itself.
func (c *conn) start(ctx context.Context) error {
	stop := context.AfterFunc(ctx, c.endLife)
	defer stop()
	return c.tr.start(c.life)
}

// request sends one request and returns the upstream's raw result. If ctx
// ends first, the upstream is told the request is cancelled.
func (c *conn) request(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	id := "mx-" + strconv.FormatInt(c.nextID.Add(1), 10)
	if len(params) == 0 {
		params = nil
	}
	resp, err := c.tr.roundTrip(ctx, newWireRequest(id, method, params))
	switch {
	case err == nil && resp.Error != nil:
		return nil, resp.Error
	case err == nil && resp.Result == nil:
		return nil, fmt.Errorf("upstream answered %s with neither result nor error", method)
	case err == nil:
		return resp.Result, nil
	case ctx.Err() != nil:
		c.cancel(id, method, context.Cause(ctx))
		return nil, context.Cause(ctx)
	}
	return nil, c.failed(ctx, err)
}

// failed explains the transport error of a request. If the connection is
// dead, or err shows it to be, the error says so and why; it is marked
// unsent if the request cannot have reached the upstream.
func (c *conn) failed(ctx context.Context, err error) error {
	reason, unsent := c.peer.fatal(err)
	if !c.awaitDeath(ctx) {
		if reason == nil {
			return c.peer.explain(err)
		}
		c.die(reason)
	}
	lost := fmt.Errorf("%w: %w", ErrConnectionLost, c.deathErr)
	if unsent {
		return unsentError{lost}
	}
	return lost
}

// awaitDeath reports whether the connection is dead, or dies within the
// peer's grace period, after a transport error.
func (c *conn) awaitDeath(ctx context.Context) bool {
	grace := c.peer.deathGrace()
	if grace <= 0 {
		return c.dead()
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// cancel tells the upstream to stop working on request id. It is sent off
// the caller's path: an upstream that does not read what it is sent must
// not hold up the caller, who already has its answer. mcpmux sends it over
// every transport, as the handshake-based revisions it speaks want. A
// connection that dies takes its cancellations with it.
func (c *conn) cancel(id, method string, reason error) {
	if method == "initialize" || c.dead() {
		return
	}
	params, _ := json.Marshal(map[string]any{"requestId": id, "reason": reason.Error()})
	c.sendsMu.Lock()
	c.sends++
	c.sendsMu.Unlock()
	go func() {
		defer c.sendDone()
		ctx, cancel := context.WithTimeout(c.life, 2*time.Second)
		defer cancel()
		_ = c.sendNotification(ctx, "notifications/cancelled", params)
	}()
}

// cancelDrain bounds how long close waits for cancellations on their way.
const cancelDrain = time.Second

// handOffDrain is cancelDrain for a mcpmux that is exiting: it has a
// fraction of a second in all.
const handOffDrain = 20 * time.Millisecond

// sendDone counts one cancellation as sent (or given up).
func (c *conn) sendDone() {
	c.sendsMu.Lock()
	defer c.sendsMu.Unlock()
	c.sends--
	if c.sends == 0 && c.sendsIdle != nil {
		close(c.sendsIdle)
		c.sendsIdle = nil
	}
}

// waitSends waits, at most d, until no cancellation is on its way.
func (c *conn) waitSends(ctx context.Context, d time.Duration) {
	c.sendsMu.Lock()
	if c.sends == 0 {
		c.sendsMu.Unlock()
		return
	}
	if c.sendsIdle == nil {
		c.sendsIdle = make(chan struct{})
	}
	idle := c.sendsIdle
	c.sendsMu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	case <-ctx.Done():
	}
}

// sendNotification sends one notification with raw params, byte for byte
// (nil: none).
func (c *conn) sendNotification(ctx context.Context, method string, params json.RawMessage) error {
	err := c.tr.send(ctx, jsonrpc.AppendNotification(nil, method, params))
	if err == nil || ctx.Err() != nil {
		return err
	}
	if reason, _ := c.peer.fatal(err); reason != nil {
		c.die(reason)
	}
	return c.peer.explain(err)
}

// pid returns the process id of the child; 0 for a remote upstream.
func (c *conn) pid() int { return c.peer.pid() }

func (c *conn) dead() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}
