package httpserve

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/internal/sessiontoken"
	"github.com/mcpmux/mcpmux/proxy"
)

// Portable sessions (Options.Keys): the Mcp-Session-Id of a streamable
// HTTP session is its state sealed under the replicas' shared key (see
// internal/sessiontoken), so that any replica serves any session's next
// request: one that meets a session it does not hold opens the token and
// resumes the session from it (adopt), with no handshake and nothing
// shared but the key. What stays on one replica: a request in flight and
// its response stream (and an upstream's request to the client on it),
// and the event ids of its streams. State that changes during a session
// (resource subscriptions, the log level) travels the same way: the
// answer to resources/subscribe, resources/unsubscribe and
// logging/setLevel is a JSON body whose Mcp-Session-Id header carries the
// session's new token (see reissue), which clients take as the session's
// id from then on; a replica that adopts the session subscribes again at
// its own upstreams. A token a client did not update still names the
// session, with the state it had.

// reissued are the methods whose answer carries a new token: they change
// what a token holds.
var reissued = map[string]bool{
	"resources/subscribe":   true,
	"resources/unsubscribe": true,
	"logging/setLevel":      true,
}

// initialState is the state of a session that an initialize with params
// opens at profile's URL.
func initialState(params json.RawMessage, profile string) sessiontoken.State {
	var p struct {
		ProtocolVersion string          `json:"protocolVersion"`
		Capabilities    json.RawMessage `json:"capabilities"`
		ClientInfo      json.RawMessage `json:"clientInfo"`
	}
	_ = json.Unmarshal(params, &p) // what does not decode, mcp-go refuses
	return sessiontoken.State{
		ID:           sessiontoken.NewID(),
		Created:      time.Now().Unix(),
		Protocol:     mcp.NegotiateLegacyVersion(p.ProtocolVersion),
		Profile:      profile,
		ClientInfo:   p.ClientInfo,
		Capabilities: p.Capabilities,
	}
}

// seal returns the token of an initialize's new session, or "" if the
// session must stay on this replica: no key, or a state too large for a
// header.
func (s *Server) seal(st sessiontoken.State) string {
	if s.opts.Keys == nil {
		return ""
	}
	token, err := s.opts.Keys.Seal(st)
	if err != nil {
		s.logger.Warn("the session stays on this replica: its state does not fit in a session id", "session", st.ID, "err", err)
		return ""
	}
	return token
}

// find returns the streamable HTTP session an Mcp-Session-Id names for r
// (its URL's profile), adopting it from its token if this replica does not
// hold it; or answers r with the error and returns nil: 404 for a session
// that is unknown, ended, expired or sealed under no key of ours, so that
// the client initializes anew; 503 if the server cannot take it now.
func (s *Server) find(w http.ResponseWriter, r *http.Request, id json.RawMessage, header string) *session {
	sess, err := s.findSession(r, header)
	switch {
	case err == nil:
		return sess
	case errors.Is(err, errShuttingDown) || errors.Is(err, errTooManySessions):
		s.unavailable(w, id, err)
	case r.Method == http.MethodPost:
		writeError(w, http.StatusNotFound, id, jsonrpc.Errorf(jsonrpc.CodeInvalidRequest, "session not found: it has ended or never existed; initialize a new one"))
	default:
		http.Error(w, "session not found", http.StatusNotFound)
	}
	return nil
}

// errNoSession: the id names no session this replica can serve.
var errNoSession = errors.New("session not found")

func (s *Server) findSession(r *http.Request, header string) (*session, error) {
	if s.opts.Keys == nil || !sessiontoken.IsToken(header) {
		if sess := s.lookupFor(r, header); sess != nil && sess.legacy == nil {
			return sess, nil
		}
		return nil, errNoSession
	}
	if sess := s.known(header); sess != nil {
		if sess.profile != profileOf(r) {
			return nil, errNoSession
		}
		return sess, nil
	}
	st, err := s.opts.Keys.Open(header)
	if err != nil {
		s.logger.Debug("session id refused", "err", err, "remote", r.RemoteAddr)
		return nil, errNoSession
	}
	if st.Profile != profileOf(r) {
		return nil, errNoSession // a session is reached only through the URL it was opened at
	}
	if sess := s.lookupFor(r, st.ID); sess != nil {
		s.remember(header, sess)
		return sess, nil
	}
	sess, err := s.adopt(st)
	if err == nil {
		s.remember(header, sess)
	}
	return sess, err
}

// maxTokens bounds the ids of one session that known remembers.
const maxTokens = 4

// known returns the session a token named before, without opening it
// again (an AES-GCM open and a JSON decode, some microseconds, on every
// request otherwise), unless it has expired meanwhile.
func (s *Server) known(token string) *session {
	s.mu.Lock()
	sess := s.tokens[token]
	s.mu.Unlock()
	if sess == nil || s.expired(sess.state) {
		return nil
	}
	return sess
}

// expired reports whether a session's id is past its life.
func (s *Server) expired(st sessiontoken.State) bool {
	keys := s.opts.Keys
	now := time.Now()
	if keys.Now != nil {
		now = keys.Now()
	}
	life := keys.MaxAge
	if life <= 0 {
		life = sessiontoken.DefaultMaxAge
	}
	return now.Sub(time.Unix(st.Created, 0)) > life
}

// remember records that token names sess, forgetting the oldest of its
// ids past maxTokens.
func (s *Server) remember(token string, sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[sess.id] != sess || s.tokens[token] == sess {
		return // ended meanwhile, or known
	}
	s.tokens[token] = sess
	sess.tokens = append(sess.tokens, token)
	if len(sess.tokens) > maxTokens {
		delete(s.tokens, sess.tokens[0])
		sess.tokens = slices.Delete(sess.tokens, 0, 1)
	}
}

// adopt resumes on this replica a session another one opened.
func (s *Server) adopt(st sessiontoken.State) (*session, error) {
	s.adoptMu.Lock()
	defer s.adoptMu.Unlock()
	if sess := s.lookupSession(st.ID); sess != nil { // adopted meanwhile
		return sess, nil
	}
	sess, err := s.open(st.ID, st.Profile, false, false)
	if err != nil {
		if errors.Is(err, proxy.ErrUnknownProfile) {
			return nil, errNoSession
		}
		return nil, err
	}
	sess.state = st
	sess.adopted = true
	err = sess.ps.Resume(proxy.Resumed{Protocol: st.Protocol, ClientInfo: st.ClientInfo, Capabilities: st.Capabilities,
		Subscribed: st.Subscribed, LogLevel: st.LogLevel})
	if err != nil {
		s.logger.Warn("a session id that opens does not resume", "session", st.ID, "err", err)
		s.endSession(sess)
		return nil, errNoSession
	}
	s.logger.Debug("session resumed from its id", "session", st.ID, "created", time.Unix(st.Created, 0).UTC())
	return sess, nil
}

// reissue sets, on the answer to a request that changed the session's
// state, the session's new token.
func (s *Server) reissue(h http.Header, sess *session) {
	if s.opts.Keys == nil || sess.state.ID == "" {
		return
	}
	st := sess.state
	st.Subscribed = sess.ps.Subscribed()
	st.LogLevel = sess.ps.LogLevel()
	if token := s.seal(st); token != "" {
		h.Set(headerSession, token)
	}
}

// unavailable answers 503 for a session the server cannot take now, and
// closes the connection: a load balancer retries the request on another
// replica.
func (s *Server) unavailable(w http.ResponseWriter, id json.RawMessage, err error) {
	code := jsonrpc.CodeUnavailable
	if errors.Is(err, errTooManySessions) {
		code = jsonrpc.CodeBusy
	}
	w.Header().Set("Connection", "close")
	writeError(w, http.StatusServiceUnavailable, id, jsonrpc.Errorf(code, "%s", err.Error()))
}
