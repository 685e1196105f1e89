package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
)

// Garbage written to stdout by -garbage.
var (
	initGarbage = []string{
		"this is not json",
		"{broken",
		"\x1b[31mERROR\x1b[0m \x1b[1mcoloured log line\x1b[0m",
	}
	callGarbage = "garbage before tools/call response"
)

// respond writes the response to r, with any garbage lines -garbage asks
// for. It exits after the Nth tools/call response when -exit-after is set,
// and freezes after it when -freeze-after is.
func (s *server) respond(r *request, result any, rerr *rpcError) {
	msg := outgoing{ID: r.msg.ID, Result: result, Error: rerr}
	if rerr == nil && result == nil {
		msg.Result = empty{}
	}
	line, err := encodeLine(withVersion(msg))
	if err != nil {
		line, _ = encodeLine(withVersion(outgoing{ID: r.msg.ID, Error: newError(codeInternalError, "encoding result: %v", err)}))
	}
	s.outMu.Lock()
	defer s.outMu.Unlock()
	s.writeGarbage(r.msg.Method)
	s.writeRaw(line)
	if r.msg.Method != "tools/call" {
		return
	}
	s.toolResponses++
	if s.cfg.exitAfter > 0 && s.toolResponses == s.cfg.exitAfter {
		os.Exit(4)
	}
	if s.cfg.freezeAfter > 0 && s.toolResponses == s.cfg.freezeAfter {
		s.frozen = true
	}
}

func (s *server) writeGarbage(method string) {
	if !s.cfg.garbage {
		return
	}
	switch method {
	case "initialize":
		for _, g := range initGarbage {
			s.writeRaw([]byte(g + "\n"))
		}
	case "tools/call":
		s.writeRaw([]byte(callGarbage + "\n"))
	}
}

// writeRaw writes one line, unless the server is frozen; the caller holds
// outMu. A client that went away is not an error worth reporting: the
// server exits on stdin EOF anyway.
func (s *server) writeRaw(line []byte) {
	if s.frozen {
		return
	}
	if s.cfg.crlf && bytes.HasSuffix(line, []byte("\n")) && !bytes.HasSuffix(line, []byte("\r\n")) {
		line = append(line[:len(line)-1:len(line)-1], '\r', '\n')
	}
	_, _ = s.out.Write(line)
}

// writeMessage writes any message as one line.
func (s *server) writeMessage(msg outgoing) {
	line, err := encodeLine(withVersion(msg))
	if err != nil {
		fmt.Fprintln(os.Stderr, "testserver: encoding message:", err)
		return
	}
	s.outMu.Lock()
	defer s.outMu.Unlock()
	s.writeRaw(line)
}

func withVersion(msg outgoing) outgoing {
	msg.JSONRPC = "2.0"
	return msg
}

// notify sends a notification to the client.
func (s *server) notify(method string, params any) {
	s.writeMessage(outgoing{Method: method, Params: params})
}

// clientRequest sends a request to the client and waits for its response.
// It returns nil if ctx ends first.
func (s *server) clientRequest(ctx context.Context, method string, params any) *message {
	ch := make(chan *message, 1)
	s.mu.Lock()
	s.nextOutID++
	id := json.RawMessage(strconv.Itoa(s.nextOutID))
	s.pending[idKey(id)] = ch
	s.mu.Unlock()

	s.writeMessage(outgoing{ID: id, Method: method, Params: params})
	select {
	case resp := <-ch:
		return resp
	case <-ctx.Done():
		s.mu.Lock()
		delete(s.pending, idKey(id))
		s.mu.Unlock()
		return nil
	}
}
