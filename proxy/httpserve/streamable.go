package httpserve

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/internal/sessiontoken"
)

// The headers of the streamable HTTP transport.
const (
	headerSession  = "Mcp-Session-Id"
	headerProtocol = "MCP-Protocol-Version"
	headerLastID   = "Last-Event-ID"
)

// retryAfter is the reconnection delay a priming event asks for.
const retryAfter = time.Second

// streamable serves /mcp: POST a message, GET the listening stream (or
// resume one with Last-Event-ID), DELETE the session.
func (s *Server) streamable(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		s.post(w, r)
	case http.MethodGet:
		s.get(w, r)
	case http.MethodDelete:
		s.deleteSession(w, r)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// readMessage reads one JSON-RPC message from r's body, or answers the
// request with the error that refuses it and returns false.
func (s *Server) readMessage(w http.ResponseWriter, r *http.Request) ([]byte, jsonrpc.Message, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.maxSize)+1))
	switch {
	case err != nil:
		http.Error(w, "reading the request: "+err.Error(), http.StatusBadRequest)
		return nil, jsonrpc.Message{}, false
	case len(body) > s.maxSize:
		writeError(w, http.StatusRequestEntityTooLarge, nil, jsonrpc.Errorf(jsonrpc.CodeInvalidRequest,
			"invalid request: the message is larger than the limit of %d bytes (maxMessageSize)", s.maxSize))
		return nil, jsonrpc.Message{}, false
	}
	body = bytes.TrimSpace(body)
	m, rpcErr := jsonrpc.Decode(body)
	if rpcErr != nil {
		writeError(w, http.StatusBadRequest, m.ID, rpcErr)
		return nil, m, false
	}
	return append(body, '\n'), m, true
}

// post serves one message of a client. A request opens a session if it
// is initialize, belongs to the session its Mcp-Session-Id names, or,
// without one, is served alone in a session of its own (a stateless
// client); its response, and what is sent while it runs, come back on an
// event stream of its own (or as a JSON body, if the client does not
// accept event streams). A notification or a response gets 202.
func (s *Server) post(w http.ResponseWriter, r *http.Request) {
	body, m, ok := s.readMessage(w, r)
	if !ok {
		return
	}
	request := !m.IsResponse() && !m.IsNotification()
	sess, oneShot, ok := s.sessionFor(w, r, &m, request)
	if !ok {
		return
	}
	if oneShot {
		defer s.endSession(sess)
	}
	sess.touch()
	if !request {
		if !oneShot {
			if !sess.handle(r.Context(), body, false, r.Header.Get("traceparent")) {
				return // the client left
			}
			if m.Method == "notifications/cancelled" {
				sess.cancelled(m.Params)
			}
		}
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if !s.begin() {
		s.unavailable(w, m.ID, errShuttingDown) // a load balancer tries another replica
		return
	}
	defer s.inflight.Done()
	// A request that changes what the session's token holds is answered
	// as a JSON body, which may come with a new token (see reissue).
	reissue := !oneShot && reissued[m.Method] && sess.state.ID != ""
	asJSON := !accepts(r, "text/event-stream") || reissue
	st, ok := sess.openRequest(m.ID, asJSON)
	if !ok {
		writeError(w, http.StatusBadRequest, m.ID, jsonrpc.Errorf(jsonrpc.CodeInvalidRequest,
			"invalid request: id %s is already in use by a request in flight", m.ID))
		return
	}
	defer sess.dropStream(st)
	if !sess.handle(r.Context(), body, true, r.Header.Get("traceparent")) {
		sess.abandon(m.ID, st) // the client left before its turn
		return
	}
	if asJSON {
		var before func(http.Header)
		if reissue {
			before = func(h http.Header) { s.reissue(h, sess) }
		}
		s.respondJSON(w, r, st, before)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	var retry time.Duration
	if !oneShot && m.Method != "initialize" {
		// A priming event: the client may resume the stream (2025-11-25).
		// Clients of earlier revisions skip an event without data.
		retry = retryAfter
	}
	st.serve(r.Context(), w, 0, retry)
}

// sessionFor finds the session a message belongs to (see post), or
// answers the request with the error and returns false.
func (s *Server) sessionFor(w http.ResponseWriter, r *http.Request, m *jsonrpc.Message, request bool) (sess *session, oneShot, ok bool) {
	if id := r.Header.Get(headerSession); id != "" {
		sess = s.find(w, r, m.ID, id)
		return sess, false, sess != nil
	}
	if !request {
		return nil, true, true // nobody to tell: a stateless client's notification
	}
	initialize := m.Method == "initialize"
	id, token := newSessionID(), ""
	var st sessiontoken.State
	if initialize && s.opts.Keys != nil {
		st = initialState(m.Params, profileOf(r))
		if token = s.seal(st); token != "" {
			id = st.ID
		} else {
			st = sessiontoken.State{}
		}
	}
	sess, err := s.open(id, profileOf(r), false, !initialize)
	if err != nil {
		s.unavailable(w, m.ID, err)
		return nil, false, false
	}
	sess.state = st
	if token != "" {
		s.remember(token, sess)
	}
	if initialize {
		w.Header().Set(headerSession, cmp.Or(token, sess.id))
		s.logger.Debug("session opened", "session", sess.id, "transport", "streamable", "portable", token != "")
	}
	return sess, !initialize, true
}

var (
	// errShuttingDown: no session opens while the server shuts down.
	errShuttingDown = errors.New("mcpmux is shutting down")
	// errTooManySessions: Options.MaxSessions are open.
	errTooManySessions = errors.New("too many sessions")
)

// open opens a session and its proxy session. A one-shot session serves
// one request of a client without a session, which has no handshake.
func (s *Server) open(id, profile string, legacy, oneShot bool) (*session, error) {
	prefix := ""
	if s.opts.Keys != nil && !legacy {
		prefix = s.instance
	}
	sess := newSession(id, legacy, prefix)
	sess.pace = pacer{clk: s.clk, logger: s.logger, session: id}
	sess.profile = profile
	if err := s.addSession(sess); err != nil {
		return nil, err
	}
	ps, err := s.proxy.OpenProfile(s.life, id, profile, sess)
	if err != nil {
		s.endSession(sess)
		return nil, err
	}
	sess.ps = ps
	if oneShot {
		ps.SkipHandshake()
	}
	return sess, nil
}

// respondJSON answers with the request's response alone, as a JSON body,
// once it comes.
// before, if not nil, may set headers of the answer once the response is
// in.
func (s *Server) respondJSON(w http.ResponseWriter, r *http.Request, st *stream, before func(http.Header)) {
	stop, _ := st.attach(0)
	defer st.detach(stop)
	for {
		events, last, done, _, ok := st.next(r.Context(), stop, nil, 0)
		if !ok {
			return
		}
		if done {
			w.Header().Set("Content-Type", "application/json")
			if before != nil {
				before(w.Header())
			}
			if len(events) == 0 {
				w.WriteHeader(http.StatusAccepted) // cancelled: no response
				return
			}
			_, _ = w.Write(events[len(events)-1])
			st.written(last)
			return
		}
	}
}

// get serves the listening stream of a session, or resumes the stream
// that Last-Event-ID names.
func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	if !accepts(r, "text/event-stream") {
		http.Error(w, "not acceptable: GET opens an event stream (Accept: text/event-stream)", http.StatusNotAcceptable)
		return
	}
	id := r.Header.Get(headerSession)
	if id == "" {
		http.Error(w, "bad request: GET needs the Mcp-Session-Id of a session", http.StatusBadRequest)
		return
	}
	if s.draining.Load() {
		// The listening stream would end at once: a load balancer
		// retries the GET on another replica.
		s.unavailable(w, nil, errShuttingDown)
		return
	}
	sess := s.find(w, r, nil, id)
	if sess == nil {
		return
	}
	sess.touch()
	st, after := sess.listening, 0
	last := r.Header.Get(headerLastID)
	sid, _, _ := strings.Cut(last, "-")
	switch {
	case last == "" || isListening(sid):
		if last != "" {
			_, after = sess.resumable(last)
		}
		if sess.takeOver() || sid != "" && (sid != st.id || !st.resumes(after)) {
			// The session's listening stream comes here from another
			// replica (or from this one's past, whose events are
			// gone): it starts anew, with one list_changed per list
			// kind, for what may have been missed on the way.
			after = 0
			sess.ps.Relist()
		}
	default:
		st, after = sess.resumable(last)
		if st != nil && !st.resumes(after) {
			st = nil // events lost, or never numbered: nothing to resume
		}
	}
	if st == nil || (st != sess.listening && st.finished()) {
		w.WriteHeader(http.StatusNoContent) // nothing left to resume
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if st.serve(r.Context(), w, after, 0) {
		sess.dropStream(st)
	}
}

// deleteSession ends the session that Mcp-Session-Id names.
//
// A portable session (see portable.go) ends on this replica: the others
// that hold it end it once idle, and its token stays valid until it
// expires, since nothing is shared to revoke it with.
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	header := r.Header.Get(headerSession)
	if s.opts.Keys != nil && sessiontoken.IsToken(header) {
		st, err := s.opts.Keys.Open(header)
		if err != nil || st.Profile != profileOf(r) {
			http.Error(w, "session not found", http.StatusNotFound)
			return
		}
		if sess := s.lookupFor(r, st.ID); sess != nil {
			s.endSession(sess)
		}
		s.logger.Debug("session ended by the client", "session", st.ID)
		w.WriteHeader(http.StatusOK)
		return
	}
	sess := s.lookupFor(r, header)
	if sess == nil || sess.legacy != nil {
		http.Error(w, "session not found", http.StatusNotFound)
		return
	}
	s.logger.Debug("session ended by the client", "session", sess.id)
	s.endSession(sess)
	w.WriteHeader(http.StatusOK)
}

// accepts reports whether the request accepts the media type, or any.
func accepts(r *http.Request, mediaType string) bool {
	accept := r.Header.Values("Accept")
	if len(accept) == 0 {
		return false
	}
	for _, v := range accept {
		for _, part := range strings.Split(v, ",") {
			mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
			if strings.EqualFold(mt, mediaType) || mt == "*/*" {
				return true
			}
		}
	}
	return false
}
