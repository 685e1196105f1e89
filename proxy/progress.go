package proxy

import (
	"encoding/json"
	"strconv"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// watchProgress routes progress with token from server to the client
// until unwatchProgress.
func (sess *session) watchProgress(token, server string) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.progress[token] = server
}

func (sess *session) unwatchProgress(token string) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	delete(sess.progress, token)
}

// progressFor reports whether server may send progress for token now.
func (sess *session) progressFor(token, server string) bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.progress[token] == server
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
