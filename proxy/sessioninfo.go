package proxy

import (
	"sync/atomic"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// SessionInfo is what the status page shows of one open session. It
// carries no session id: over HTTP that is the key to the session.
type SessionInfo struct {
	// Client and ClientVersion are the client's clientInfo.
	Client        string
	ClientVersion string
	// Protocol is the MCP revision the session speaks: the one its
	// initialize agreed on, or the one a 2026-07-28 client names in its
	// requests; "" before either.
	Protocol string
	// Profile is the session's profile; "" for the whole catalogue.
	Profile string
	// Opened is when the session was opened.
	Opened time.Time
	// Calls counts the client's tools/call requests.
	Calls int64
}

// sessionInfo is what a session keeps for SessionInfo.
type sessionInfo struct {
	opened   time.Time
	calls    atomic.Int64
	protocol atomic.Pointer[string]
}

// setProtocol records the revision the session speaks, once.
func (i *sessionInfo) setProtocol(v string) {
	if v != "" && i.protocol.Load() == nil {
		i.protocol.CompareAndSwap(nil, &v)
	}
}

// protocolFromMeta records the revision a 2026-07-28 client names in the
// _meta of its requests.
func (sess *session) protocolFromMeta(p *params) {
	if sess.info.protocol.Load() != nil {
		return
	}
	if v, _ := jsonrpc.String(p.metaValue(metaProtocolVersion)); v != "" {
		sess.info.setProtocol(v)
	}
}

// SessionInfos returns what the status page shows of every open session,
// oldest first.
func (s *Server) SessionInfos() []SessionInfo {
	open := s.openSessions()
	out := make([]SessionInfo, 0, len(open))
	for _, sess := range open {
		ci := sess.GetClientInfo()
		info := SessionInfo{Client: ci.Name, ClientVersion: ci.Version, Profile: sess.profile, Opened: sess.info.opened, Calls: sess.info.calls.Load()}
		if v := sess.info.protocol.Load(); v != nil {
			info.Protocol = *v
		}
		out = append(out, info)
	}
	return out
}
