package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// server is one test server instance. Incoming messages are read by serve;
// each request runs on its own goroutine.
type server struct {
	cfg config
	log *messageLog

	outMu         sync.Mutex // serialises writes to out
	out           io.Writer
	toolResponses int  // tools/call responses written; guarded by outMu
	frozen        bool // -freeze-after reached: nothing more is written; guarded by outMu

	active sync.WaitGroup // requests being handled

	mu          sync.Mutex // guards everything below
	tools       []*tool
	toolIndex   map[string]*tool
	added       int
	listedTools bool // a tools/list has been answered
	calls       int
	cancelled   []json.RawMessage
	inflight    map[string]*request
	pending     map[string]chan *message
	nextOutID   int
	subscribed  map[string]bool
	lists       listStats
	logLevel    string
	file        fileCatalogue // -catalogue's
}

// request is one incoming request being handled.
type request struct {
	msg    *message
	ctx    context.Context
	cancel context.CancelFunc
	seq    int    // 1-based index among tools/call requests
	after  func() // run after the response has been written
}

type handlerFunc func(*server, *request) (any, *rpcError)

// handlers maps every supported request method to its handler.
var handlers = map[string]handlerFunc{
	"initialize":               (*server).initialize,
	"ping":                     (*server).ping,
	"tools/list":               (*server).toolsList,
	"tools/call":               (*server).toolsCall,
	"prompts/list":             (*server).promptsList,
	"prompts/get":              (*server).promptsGet,
	"resources/list":           (*server).resourcesList,
	"resources/templates/list": (*server).templatesList,
	"resources/read":           (*server).resourcesRead,
	"resources/subscribe":      (*server).resourcesSubscribe,
	"resources/unsubscribe":    (*server).resourcesUnsubscribe,
	"logging/setLevel":         (*server).setLevel,
	"completion/complete":      (*server).complete,
}

func newServer(cfg config, out io.Writer) (*server, error) {
	log, err := openMessageLog(cfg.logFile)
	if err != nil {
		return nil, err
	}
	s := &server{
		cfg:        cfg,
		log:        log,
		out:        out,
		toolIndex:  map[string]*tool{},
		inflight:   map[string]*request{},
		pending:    map[string]chan *message{},
		subscribed: map[string]bool{},
	}
	s.buildCatalogue()
	if cfg.catalogue != "" {
		s.watchCatalogue()
	}
	return s, nil
}

// serve reads newline-delimited messages until EOF. Lines may be arbitrarily
// large, hence ReadBytes rather than a Scanner.
func (s *server) serve(in io.Reader) error {
	br := bufio.NewReaderSize(in, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			s.receive(line)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// receive classifies one incoming line and routes it.
func (s *server) receive(line []byte) {
	var msg message
	if err := json.Unmarshal(line, &msg); err != nil {
		code := codeParseError
		if json.Valid(line) { // e.g. a batch: valid JSON, not a message
			code = codeInvalidRequest
		}
		s.writeMessage(outgoing{ID: json.RawMessage("null"), Error: newError(code, "invalid message: %v", err)})
		return
	}
	s.log.record(&msg)
	if s.cfg.stderrChatter && msg.Method != "" {
		fmt.Fprintf(os.Stderr, "testserver: handling %s\n", msg.Method)
	}
	switch {
	case msg.Method != "" && msg.ID != nil:
		s.start(&msg)
	case msg.Method != "":
		s.notification(&msg)
	case msg.ID != nil:
		s.deliver(&msg)
	default:
		s.writeMessage(outgoing{ID: json.RawMessage("null"), Error: newError(codeInvalidRequest, "invalid request")})
	}
}

// start registers a request as in flight and handles it on a new goroutine.
// Registration happens here, in read order, so that a later
// notifications/cancelled always finds it.
func (s *server) start(msg *message) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &request{msg: msg, ctx: ctx, cancel: cancel}
	s.mu.Lock()
	s.inflight[idKey(msg.ID)] = r
	if msg.Method == "tools/call" {
		s.calls++
		r.seq = s.calls
	}
	s.mu.Unlock()
	s.active.Add(1)
	go s.handle(r)
}

// handle runs a request and writes its response, unless it was cancelled.
func (s *server) handle(r *request) {
	defer s.active.Done()
	defer r.cancel()
	result, rerr := s.dispatch(r)
	cancelled := r.ctx.Err() != nil
	s.mu.Lock()
	if s.inflight[idKey(r.msg.ID)] == r {
		delete(s.inflight, idKey(r.msg.ID))
	}
	s.mu.Unlock()
	if cancelled {
		return
	}
	s.respond(r, result, rerr)
	if r.after != nil {
		r.after()
	}
}

func (s *server) dispatch(r *request) (any, *rpcError) {
	h, ok := handlers[r.msg.Method]
	if !ok || s.missing(r.msg.Method) {
		return nil, newError(codeMethodNotFound, "method not found: %s", r.msg.Method)
	}
	return h(s, r)
}

// notification handles client notifications; unknown ones are ignored.
func (s *server) notification(msg *message) {
	if msg.Method == "notifications/cancelled" {
		s.cancelRequest(msg.Params)
	}
}

// cancelRequest records a notifications/cancelled and cancels the request.
func (s *server) cancelRequest(params json.RawMessage) {
	var p struct {
		RequestID json.RawMessage `json:"requestId"`
	}
	if decodeParams(params, &p) != nil || p.RequestID == nil {
		return
	}
	s.mu.Lock()
	s.cancelled = append(s.cancelled, p.RequestID)
	r := s.inflight[idKey(p.RequestID)]
	s.mu.Unlock()
	if r != nil {
		r.cancel()
	}
}

// deliver hands a client response to the server request waiting for it.
func (s *server) deliver(msg *message) {
	s.mu.Lock()
	ch := s.pending[idKey(msg.ID)]
	delete(s.pending, idKey(msg.ID))
	s.mu.Unlock()
	if ch != nil {
		ch <- msg
	}
}

// drainTimeout bounds how long shutdown waits for requests in flight.
const drainTimeout = 200 * time.Millisecond

// shutdown exits with code 0 once the requests in flight are answered, or
// after drainTimeout (hang never finishes). It takes the output lock first
// so that no line is cut in half.
func (s *server) shutdown() {
	s.outMu.Lock()
	frozen := s.frozen
	s.outMu.Unlock()
	for frozen {
		time.Sleep(time.Hour) // a frozen server lives until killed
	}
	drained := make(chan struct{})
	go func() {
		s.active.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(drainTimeout):
	}
	s.outMu.Lock()
	os.Exit(0)
}

// sleepCtx sleeps for d; it reports false if ctx ended first.
// waitFile waits until the file path exists, or returns false when ctx
// ends first. An empty path is there at once.
func waitFile(ctx context.Context, path string) bool {
	for path != "" {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		if !sleepCtx(ctx, 10*time.Millisecond) {
			return false
		}
	}
	return true
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
