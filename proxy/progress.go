package proxy

import (
	"encoding/json"
	"strconv"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// Progress reaches the session whose call asked for it, while the call
// runs. The upstreams are shared among sessions, whose clients choose
// their tokens alone, so two may pick the same: a session that shares
// them (see session.remap) sends its calls with a token of mcpmux's in
// place of the client's, and gets its own back in each notification. A
// session served alone (Serve's) passes its tokens through unchanged.

// progressRoute is where progress with one token goes.
type progressRoute struct {
	sess   *session
	call   json.RawMessage // the id of the client's request
	server string          // the upstream that may send it
	token  json.RawMessage // the client's own token, if the upstream got another; nil if not
}

// watchProgress routes progress with token (see tokenKey) from server to
// the client's call until unwatchProgress.
func (sess *session) watchProgress(token, server string, call, clientToken json.RawMessage) {
	s := sess.srv
	s.progressMu.Lock()
	defer s.progressMu.Unlock()
	s.progress[token] = progressRoute{sess: sess, call: call, server: server, token: clientToken}
}

func (sess *session) unwatchProgress(token string) {
	s := sess.srv
	s.progressMu.Lock()
	defer s.progressMu.Unlock()
	if s.progress[token].sess == sess {
		delete(s.progress, token)
	}
}

// progressFor returns where progress with token from server goes, if
// server may send it now.
func (s *Server) progressFor(token, server string) (progressRoute, bool) {
	s.progressMu.Lock()
	defer s.progressMu.Unlock()
	r, ok := s.progress[token]
	return r, ok && r.server == server
}

// remapProgress gives a request's params a progress token of mcpmux's in
// place of the client's, if the session shares its upstreams and the
// request has one (p, nil for none). It returns the params to send, the
// key under which progress for them is watched, and the client's token
// (nil if it was not replaced).
func (sess *session) remapProgress(params json.RawMessage, p *params) (json.RawMessage, string, json.RawMessage) {
	key, ok := p.progressToken()
	if !ok {
		return params, "", nil
	}
	if !sess.remap {
		return params, key, nil
	}
	client := p.metaValue(metaProgressToken)
	ours := jsonrpc.Quote("mcpmux-progress-" + strconv.FormatInt(sess.srv.nextToken.Add(1), 10))
	meta, err := jsonrpc.Member(params, "_meta")
	if err != nil || meta == nil {
		return params, key, nil
	}
	meta, err = jsonrpc.Set(meta, "progressToken", ours)
	if err != nil {
		return params, key, nil
	}
	out, err := jsonrpc.Set(params, "_meta", meta)
	if err != nil {
		return params, key, nil
	}
	key, _ = tokenKey(ours)
	return out, key, client
}

// tokenKey returns a raw progress token (a string or a number) in
// comparable form.
func tokenKey(raw json.RawMessage) (string, bool) {
	if raw == nil {
		return "", false
	}
	if s, ok := jsonrpc.String(raw); ok {
		return "s:" + s, true
	}
	if f, err := strconv.ParseFloat(string(raw), 64); err == nil {
		return "n:" + strconv.FormatFloat(f, 'g', -1, 64), true
	}
	return "", false
}
