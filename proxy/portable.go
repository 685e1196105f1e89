package proxy

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/mark3labs/mcp-go/mcp"
)

// A session of mcpmux's HTTP server may move between replicas of mcpmux
// (see proxy/httpserve and internal/sessiontoken): the replica it moves to
// resumes it from the state its session id carries, without a handshake.

// Resumed is the state a session resumes with on a replica that did not
// serve its handshake.
type Resumed struct {
	// Protocol is the protocol revision negotiated at initialize.
	Protocol string
	// ClientInfo and Capabilities are the client's, as its initialize
	// sent them; nil for none.
	ClientInfo, Capabilities json.RawMessage
	// Subscribed are the resource URIs the client was subscribed to:
	// the subscriptions are made again at their upstreams.
	Subscribed []string
	// LogLevel is the level the client last set (logging/setLevel); ""
	// for none. The upstreams' level is one for all the sessions of an
	// mcpmux: a replica whose level no client has set takes it.
	LogLevel string
}

// listKinds are the list_changed notifications of the lists a session
// may have been answered.
var listKinds = []string{
	"notifications/tools/list_changed",
	"notifications/prompts/list_changed",
	"notifications/resources/list_changed",
}

// SetProtocolVersion records the protocol revision initialize negotiated
// (mcp-go calls it).
func (s *session) SetProtocolVersion(version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.protocol = version
}

// ProtocolVersion returns the protocol revision initialize negotiated; ""
// before it.
func (c *Session) ProtocolVersion() string {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.protocol
}

// Resume makes a session just opened the one the state describes: its
// handshake done, with the client's info and capabilities; every list
// kind taken as answered already (it may have been, on another replica),
// so that changes are announced; its subscriptions made again. It fails,
// leaving the session as it was, on info or capabilities that do not
// decode.
func (c *Session) Resume(st Resumed) error {
	var info mcp.Implementation
	var caps mcp.ClientCapabilities
	if len(st.ClientInfo) > 0 {
		if err := json.Unmarshal(st.ClientInfo, &info); err != nil {
			return fmt.Errorf("resuming a session: its client info: %w", err)
		}
	}
	if len(st.Capabilities) > 0 {
		if err := json.Unmarshal(st.Capabilities, &caps); err != nil {
			return fmt.Errorf("resuming a session: its capabilities: %w", err)
		}
	}
	s := c.s
	s.mu.Lock()
	s.protocol = st.Protocol
	s.clientInfo = info
	s.clientCaps = caps
	s.capsSet = true
	for _, m := range listKinds {
		s.shown[m] = true
	}
	s.mu.Unlock()
	s.initialized.Store(true)
	s.initOnce.Do(func() { close(s.initDone) })
	if st.LogLevel != "" {
		s.resumeLevel(st.LogLevel)
	}
	for _, uri := range st.Subscribed {
		s.resourceSubscription("resources/subscribe", uri)
	}
	return nil
}

// Relist tells the client, once per list kind it has been answered (or,
// resumed, may have been), that the list changed: a replica that takes
// over a session's listening stream sends it, since changes may have been
// missed while the stream was elsewhere.
func (c *Session) Relist() {
	c.s.mu.Lock()
	kinds := slices.Sorted(maps.Keys(c.s.shown))
	c.s.mu.Unlock()
	for _, m := range kinds {
		c.s.listChanged(m)
	}
}

// Subscribed returns the resource URIs the client is subscribed to, in
// order.
func (c *Session) Subscribed() []string {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return slices.Sorted(maps.Keys(c.s.subscribed))
}

// LogLevel returns the level the client last set; "" for none.
func (c *Session) LogLevel() string {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.level
}

// resumeLevel sets the upstreams' log level to a resumed session's, if no
// client of this mcpmux has set one.
func (s *session) resumeLevel(level string) {
	switch mcp.LoggingLevel(level) {
	case mcp.LoggingLevelDebug, mcp.LoggingLevelInfo, mcp.LoggingLevelNotice, mcp.LoggingLevelWarning,
		mcp.LoggingLevelError, mcp.LoggingLevelCritical, mcp.LoggingLevelAlert, mcp.LoggingLevelEmergency:
	default:
		return
	}
	s.mu.Lock()
	s.level = level
	s.mu.Unlock()
	raw, _ := json.Marshal(map[string]string{"level": level})
	srv := s.srv
	srv.mu.Lock()
	if srv.logLevel != nil {
		srv.mu.Unlock()
		return
	}
	srv.logLevel = raw
	srv.mu.Unlock()
	for name, c := range srv.cat.Load().upstreamCatalogues() {
		if c != nil && offers(c.Capabilities, "logging") {
			go srv.passLevel(name, raw)
		}
	}
}
