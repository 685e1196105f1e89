package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/registry"
)

// memNet is an in-memory network with one listener, for tests under
// testing/synctest, whose fake clock advances only while every goroutine
// is blocked on something of the bubble's: a real socket is not.
type memNet struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newMemNet() *memNet {
	return &memNet{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (n *memNet) Accept() (net.Conn, error) {
	select {
	case c := <-n.conns:
		return c, nil
	case <-n.closed:
		return nil, net.ErrClosed
	}
}

func (n *memNet) Close() error {
	n.once.Do(func() { close(n.closed) })
	return nil
}

func (n *memNet) Addr() net.Addr { return memAddr{} }

// dial connects to the listener; once it is closed, it fails as a refused
// connection does.
func (n *memNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case n.conns <- server:
		return client, nil
	case <-n.closed:
	case <-ctx.Done():
	}
	client.Close()
	server.Close()
	return nil, &net.OpError{Op: "dial", Net: network, Addr: memAddr{}, Err: errors.New("connection refused")}
}

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "fake.test:80" }

// fakeKind is the transport a fake server speaks.
type fakeKind string

const (
	fakeStreamable fakeKind = "http"
	fakeSSE        fakeKind = "sse"
)

// fakeTool is a tool of a fake server. It writes what it likes to out, the
// stream that carries the call's response (the POST's own for streamable
// HTTP, the session's event stream for SSE), and returns the raw result,
// or "" to leave the call unanswered.
type fakeTool func(ctx context.Context, f *fake, out *fakeStream, id json.RawMessage) (result string)

// fake is a hand-written MCP server, over streamable HTTP at /mcp or over
// HTTP+SSE at /sse, for the transports' edge cases: a test decides every
// byte it sends. It serves one session at a time.
type fake struct {
	kind  fakeKind
	tools map[string]fakeTool
	// onInitialized, if set, runs when the client says it is initialized,
	// with the stream that carries what belongs to no request.
	onInitialized func(f *fake, listen *fakeStream)
	// getStream, if set, decides how to answer a GET after the first, whose
	// Last-Event-ID is lastID: with code, and if code is 200, with serve
	// writing the stream and ending it, or, if serve is nil, with a new
	// listening stream.
	getStream func(f *fake, lastID string) (code int, serve func(out *fakeStream))
	// endpoint is what the SSE stream names as the endpoint; empty means
	// /message?session=1.
	endpoint string
	// status, if set, is what every request is answered with.
	status int

	life context.Context // ends when the test does; bounds what outlives a request

	mu         sync.Mutex
	session    string
	sessions   int
	requests   []fakeRequest
	listen     *fakeStream // the open GET stream (streamable) or event stream (SSE)
	gets       int
	answers    map[string]chan json.RawMessage // the client's answers, by raw id
	notes      []json.RawMessage               // notifications from the client
	changed    chan struct{}                   // closed and replaced when anything above changes
	forgetting bool                            // answer 404 to the session
}

// fakeRequest is one HTTP request the fake received.
type fakeRequest struct {
	method string // HTTP
	header http.Header
	body   []byte
}

// serve runs f on an in-memory network until the test ends, and returns
// the network's dialer and the server's configuration.
func (f *fake) serve(t *testing.T) (dialFunc, *registry.Server) {
	f.changed = make(chan struct{})
	f.answers = map[string]chan json.RawMessage{}
	life, cancel := context.WithCancel(context.Background())
	f.life = life
	n := newMemNet()
	srv := &http.Server{Handler: f}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(n)
	}()
	t.Cleanup(func() {
		cancel()
		srv.Close()
		<-done
	})
	path := "/mcp"
	if f.kind == fakeSSE {
		path = "/sse"
	}
	return n.dial, &registry.Server{
		Name:        "fake",
		URL:         "http://fake.test" + path,
		Type:        string(f.kind),
		Headers:     map[string]string{"X-Key": "header-secret"},
		Backoff:     registry.Backoff{Initial: registry.Duration(10 * time.Millisecond), Max: registry.Duration(100 * time.Millisecond)},
		HealthCheck: registry.HealthCheck{Interval: -1},
	}
}

// update changes f under its lock and wakes those waiting for a change.
func (f *fake) update(change func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change()
	close(f.changed)
	f.changed = make(chan struct{})
}

// waitFor waits until cond, called under f's lock, holds, or ctx ends.
func (f *fake) waitFor(ctx context.Context, cond func() bool) bool {
	for {
		f.mu.Lock()
		ok, changed := cond(), f.changed
		f.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

// received returns the HTTP requests received so far.
func (f *fake) received() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...)
}

// ask sends a request of the server's on out and returns the client's
// answer, raw, or nil if ctx ends first.
func (f *fake) ask(ctx context.Context, out *fakeStream, request string) json.RawMessage {
	var m struct{ ID json.RawMessage }
	_ = json.Unmarshal([]byte(request), &m)
	answer := make(chan json.RawMessage, 1)
	f.mu.Lock()
	f.answers[string(m.ID)] = answer
	f.mu.Unlock()
	out.send(request)
	select {
	case a := <-answer:
		return a
	case <-ctx.Done():
		return nil
	}
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.update(func() { f.requests = append(f.requests, fakeRequest{r.Method, r.Header.Clone(), body}) })
	if f.status != 0 {
		http.Error(w, "refused", f.status)
		return
	}
	switch {
	case f.kind == fakeSSE && r.Method == http.MethodGet:
		f.serveSSE(w, r)
	case f.kind == fakeSSE && r.Method == http.MethodPost:
		w.WriteHeader(http.StatusAccepted)
		f.mu.Lock()
		out := f.listen
		f.mu.Unlock()
		go f.message(f.life, out, body) // answered on the stream
	case r.Method == http.MethodPost:
		f.servePost(w, r, body)
	case r.Method == http.MethodGet:
		f.serveGet(w, r)
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// sessionOK reports whether r is on the live session, answering 404 if
// it is not.
func (f *fake) sessionOK(w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	ok := !f.forgetting && r.Header.Get(headerSession) == f.session
	f.mu.Unlock()
	if !ok {
		http.Error(w, "no such session", http.StatusNotFound)
	}
	return ok
}

// servePost serves one message of streamable HTTP.
func (f *fake) servePost(w http.ResponseWriter, r *http.Request, body []byte) {
	m, _ := decodeFake(body)
	if m.Method == "initialize" {
		f.update(func() {
			f.sessions++
			f.session = fmt.Sprintf("session-%d", f.sessions)
			f.forgetting = false
		})
		w.Header().Set(headerSession, f.currentSession())
	} else if !f.sessionOK(w, r) {
		return
	}
	if m.Method == "" || jsonrpc.IsNull(m.ID) { // an answer or a notification
		w.WriteHeader(http.StatusAccepted)
		f.message(r.Context(), nil, body)
		return
	}
	if _, ok := f.tools[toolName(m)]; ok && m.Method == "tools/call" {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		f.message(r.Context(), newFakeStream(w), body)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(f.answer(m)))
}

func (f *fake) currentSession() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.session
}

// message handles one message of the client's; out carries what the
// server sends about it.
func (f *fake) message(ctx context.Context, out *fakeStream, body []byte) {
	m, _ := decodeFake(body)
	switch {
	case m.Method == "": // an answer to one of the server's requests
		f.mu.Lock()
		answer := f.answers[string(m.ID)]
		f.mu.Unlock()
		if answer != nil {
			answer <- json.RawMessage(bytes.TrimSuffix(body, []byte("\n"))) // mcpmux ends each message with one
		}
	case jsonrpc.IsNull(m.ID):
		f.update(func() { f.notes = append(f.notes, json.RawMessage(body)) })
		if m.Method == "notifications/initialized" && f.onInitialized != nil {
			f.mu.Lock()
			listen := f.listen
			f.mu.Unlock()
			go f.onInitialized(f, listen)
		}
	case m.Method == "tools/call" && f.tools[toolName(m)] != nil:
		if res := f.tools[toolName(m)](ctx, f, out, m.ID); res != "" {
			out.send(`{"jsonrpc":"2.0","id":` + string(m.ID) + `,"result":` + res + `}`)
		}
	default:
		out.send(f.answer(m))
	}
}

// answer returns the response to a request that no tool serves.
func (f *fake) answer(m fakeMessage) string {
	result := `{}`
	switch m.Method {
	case "initialize":
		result = `{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"fake","version":"1"}}`
	case "tools/list":
		var names []string
		for name := range f.tools {
			names = append(names, `{"name":"`+name+`","inputSchema":{"type":"object"}}`)
		}
		result = `{"tools":[` + strings.Join(names, ",") + `]}`
	case "ping":
	default:
		return `{"jsonrpc":"2.0","id":` + string(m.ID) + `,"error":{"code":-32601,"message":"no ` + m.Method + `"}}`
	}
	return `{"jsonrpc":"2.0","id":` + string(m.ID) + `,"result":` + result + `}`
}

// serveGet serves the listening stream of streamable HTTP, or the rest of
// a stream after its Last-Event-ID.
func (f *fake) serveGet(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(headerSession) == "" {
		http.Error(w, "no session", http.StatusBadRequest) // as server-everything does
		return
	}
	if !f.sessionOK(w, r) {
		return
	}
	var first bool
	f.update(func() { f.gets++; first = f.gets == 1 })
	code, serve := http.StatusOK, (func(*fakeStream))(nil)
	if !first && f.getStream != nil {
		code, serve = f.getStream(f, r.Header.Get(headerLastID))
	}
	if code != http.StatusOK {
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	out := newFakeStream(w)
	if serve != nil {
		out.flush()
		serve(out)
		out.end()
		return
	}
	// The stream is the listening one before the client can see it open
	// (the flush sends its headers): the client may say it is initialized
	// at once, and onInitialized looks for it then.
	f.update(func() { f.listen = out })
	out.flush()
	select {
	case <-r.Context().Done():
	case <-out.ended:
	}
	out.end()
	f.update(func() {
		if f.listen == out {
			f.listen = nil
		}
	})
}

// serveSSE serves the event stream of HTTP+SSE, whose first event names
// the endpoint.
func (f *fake) serveSSE(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	out := newFakeStream(w)
	f.update(func() { f.sessions++; f.listen = out })
	endpoint := f.endpoint
	if endpoint == "" {
		endpoint = "/message?session=1"
	}
	out.write("event: endpoint\ndata: " + endpoint + "\n\n")
	select {
	case <-r.Context().Done():
	case <-out.ended:
	}
	out.end()
	f.update(func() { f.listen = nil })
}

// listening waits for the stream that carries what belongs to no request.
func (f *fake) listening(ctx context.Context) *fakeStream {
	var out *fakeStream
	f.waitFor(ctx, func() bool { out = f.listen; return out != nil })
	return out
}

// fakeStream is an event stream a fake server writes to. Its methods are
// safe for concurrent use.
type fakeStream struct {
	mu    sync.Mutex
	w     http.ResponseWriter
	ended chan struct{} // closed by end
	once  sync.Once
}

func newFakeStream(w http.ResponseWriter) *fakeStream {
	return &fakeStream{w: w, ended: make(chan struct{})}
}

// send writes one message as an event of its own.
func (s *fakeStream) send(message string) { s.write("data: " + message + "\n\n") }

// write writes raw event-stream text.
func (s *fakeStream) write(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.ended:
		return
	default:
	}
	_, _ = io.WriteString(s.w, text)
	s.w.(http.Flusher).Flush()
}

func (s *fakeStream) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.(http.Flusher).Flush()
}

// end ends the stream: the listening stream, or an SSE session's. Nothing
// is written to it afterwards.
func (s *fakeStream) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.once.Do(func() { close(s.ended) })
}

// fakeMessage is a message as the fake server reads it.
type fakeMessage struct {
	ID     json.RawMessage
	Method string
	Params json.RawMessage
}

func decodeFake(body []byte) (fakeMessage, bool) {
	var m fakeMessage
	return m, json.Unmarshal(body, &m) == nil
}

func toolName(m fakeMessage) string {
	var p struct{ Name string }
	_ = json.Unmarshal(m.Params, &p)
	return p.Name
}
