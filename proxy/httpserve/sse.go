package httpserve

import (
	"fmt"
	"net/http"
	"net/url"
)

// maxBacklog bounds the messages an HTTP+SSE session's stream holds for a
// client that does not read it: past it, the session's requests are
// refused with 503 until it reads.
const maxBacklog = 4096

// The HTTP+SSE transport of protocol revision 2024-11-05, which clients
// still use: GET /sse opens the session and its one event stream, whose
// first event, "endpoint", names the URL to POST the client's messages
// to (/message?sessionId=...); everything mcpmux sends comes on the
// stream. The session ends with the stream.

// sseStream serves GET /sse.
func (s *Server) sseStream(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed: GET /sse opens a session; POST its messages to the endpoint it names", http.StatusMethodNotAllowed)
		return
	}
	sess, err := s.open(newSessionID(), profileOf(r), true, false)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer s.endSession(sess)
	s.logger.Debug("session opened", "session", sess.id, "transport", "sse")
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	endpoint := "/message?sessionId=" + url.QueryEscape(sess.id)
	if _, err := w.Write([]byte("event: endpoint\ndata: " + endpoint + "\n\n")); err != nil {
		return
	}
	sess.legacy.serve(r.Context(), w, 0, 0)
}

// sseMessage serves POST /message: one message of the client's, for the
// session its sessionId names.
func (s *Server) sseMessage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	sess := s.lookupSession(r.URL.Query().Get("sessionId"))
	if sess == nil || sess.legacy == nil {
		http.Error(w, "session not found", http.StatusNotFound)
		return
	}
	// One message of a session at a time: a client that floods from
	// many connections gets the CPU of one, and leaves the rest to the
	// other sessions (see session.turn).
	sess.turn.Lock()
	defer sess.turn.Unlock()
	body, m, ok := s.readMessage(w, r)
	if !ok {
		return
	}
	request := !m.IsResponse() && !m.IsNotification()
	if request && !sess.pace.wait(r.Context()) {
		return // the client left before its turn
	}
	if n := sess.legacy.backlog(); request && n >= maxBacklog {
		// Its answers would pile up in memory: a client that sends without
		// reading its stream waits until it reads.
		sess.pace.book()
		http.Error(w, fmt.Sprintf("too many messages not yet read: the session's event stream holds %d; read them before sending more requests", n), http.StatusServiceUnavailable)
		return
	}
	if request && !s.begin() {
		http.Error(w, "mcpmux is shutting down", http.StatusServiceUnavailable)
		return
	}
	if request {
		s.inflight.Done() // the answer comes on the stream; shutdown waits for the proxy session instead
	}
	sess.touch()
	sess.dispatch(body, request, r.Header.Get("traceparent"))
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte("Accepted"))
}
