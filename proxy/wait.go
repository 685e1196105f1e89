package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/upstream"
)

// A host may list only once per session (Claude Desktop ignores
// list_changed), so the first list of each kind that a session asks for
// waits until every upstream's catalogue is known: delivered, failed, or
// out of time (its startTimeout). A request for a name mcpmux does not know
// yet waits the same way for the upstreams that could own it. Nothing else
// ever waits: lists after the first, and names once every catalogue is
// known, are answered at once.

// catalogueState is what the proxy knows of one upstream's catalogue.
type catalogueState struct {
	added  time.Time // when the upstream was added: its start timeout runs from here
	live   bool      // a catalogue has arrived from the upstream itself
	failed string    // why an attempt failed, once one has; never cleared
	idle   bool      // a lazy upstream that waits for its first request
	// shook: the upstream has completed a handshake, and told
	// instructions (see UpstreamHandshake).
	shook        bool
	instructions string
}

// UpstreamState tells the proxy of a change of an upstream's state. An
// upstream whose attempt failed, or that waits idle for its first request,
// no longer holds up the first lists.
func (s *Server) UpstreamState(st upstream.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.upstreams[st.Server]
	if r == nil {
		return
	}
	switch {
	case st.State == upstream.StateBackoff, st.State == upstream.StateStopped && st.Attempt > 0:
		r.state.failed = st.LastError
	case st.State == upstream.StateIdle:
		r.state.idle = true
	default:
		return
	}
	s.changedLocked()
}

// changedLocked wakes everyone waiting for catalogues. s.mu is held.
func (s *Server) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// pendingLocked reports whether r's catalogue is still to come for a
// session whose relayed capabilities are caps ("" if unknown), at now. A
// cached catalogue read under other capabilities counts as unknown: the
// upstream may offer this client other tools. s.mu is held.
func (s *Server) pendingLocked(r *route, caps string, now time.Time) bool {
	st := r.state
	if st.live || st.failed != "" || st.idle || !now.Before(r.deadline()) {
		return false
	}
	src := s.sources[r.cfg.Name]
	return src == nil || caps != "" && src.caps != caps
}

// deadline is when r's start timeout ends.
func (r *route) deadline() time.Time { return r.state.added.Add(r.cfg.StartBound()) }

// awaitCatalogues waits until no upstream that want selects is pending
// (see pendingLocked), or ctx ends, and returns the names of those still
// pending, sorted.
func (s *Server) awaitCatalogues(ctx context.Context, caps string, want func(*route) bool) []string {
	for {
		now := s.clock.Now()
		s.mu.Lock()
		changed := s.changed
		var pending []string
		var next time.Time
		for name, r := range s.upstreams {
			if want(r) && s.pendingLocked(r, caps, now) {
				pending = append(pending, name)
				if d := r.deadline(); next.IsZero() || d.Before(next) {
					next = d
				}
			}
		}
		s.mu.Unlock()
		if len(pending) == 0 || ctx.Err() != nil {
			sort.Strings(pending)
			return pending
		}
		s.releaseStart()
		t, fired := s.clock.NewTimer(next.Sub(now))
		select {
		case <-changed:
		case <-fired:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// WaitCatalogues waits until every upstream's catalogue is known, or its
// start timeout has passed, or ctx ends. It returns the names of the
// upstreams still pending.
func (s *Server) WaitCatalogues(ctx context.Context) []string {
	return s.awaitCatalogues(ctx, "", func(*route) bool { return true })
}

// releaseStart lets upstreams that wait for the first tool list start now:
// a list that waits for catalogues cannot be answered from the cache.
func (s *Server) releaseStart() { s.listedOnce.Do(func() { close(s.listed) }) }

// awaitFirst makes the first list of method in this session wait for every
// upstream's catalogue.
func (sess *session) awaitFirst(ctx context.Context, method string) {
	sess.mu.Lock()
	first := !sess.listed[method]
	sess.listed[method] = true
	sess.mu.Unlock()
	if first {
		sess.srv.awaitCatalogues(ctx, sess.capsKey(), func(*route) bool { return true })
	}
}

// answeredList records that a list whose changes method announces has been
// rendered for the client: changes from now on are announced.
func (sess *session) answeredList(method string) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.shown[method] = true
}

// lookup finds the entry named name in the list that of selects. If it is
// not there yet while an upstream that could own it is still starting, it
// waits for that upstream, within ctx and its start timeout. "unknown" is
// said only once every upstream that could own the name is known.
func (sess *session) lookup(ctx context.Context, of func(*catalogue) list, kind, name string) (entry, error) {
	s := sess.srv
	if e, ok := of(s.cat.Load()).get(name); ok {
		return e, nil
	}
	if err := s.withheldError(kind, name); err != nil {
		return entry{}, err
	}
	owners := s.owners(name)
	ctx, cancel := context.WithTimeout(ctx, owners.timeout)
	defer cancel()
	start := s.clock.Now()
	pending := s.awaitCatalogues(ctx, sess.capsKey(), owners.could)
	if e, ok := of(s.cat.Load()).get(name); ok {
		return e, nil
	}
	if len(pending) > 0 {
		who := "upstream " + quoteList(pending) + " is"
		if len(pending) > 1 {
			who = "upstreams " + quoteList(pending) + " are"
		}
		return entry{}, jsonrpc.Errorf(jsonrpc.CodeUnavailable, "%s %q is not known yet: %s still starting after %s",
			kind, name, who, s.clock.Now().Sub(start).Round(time.Millisecond))
	}
	if r := owners.byPrefix; r != nil {
		if why := s.unavailable(r); why != "" {
			return entry{}, jsonrpc.Errorf(jsonrpc.CodeUnavailable, "%s %q: upstream %q is unavailable: %s", kind, name, r.cfg.Name, why)
		}
	}
	if err := s.withheldError(kind, name); err != nil {
		return entry{}, err
	}
	msg := "unknown " + kind + " " + string(jsonrpc.Quote(name))
	if near := closest(of(s.cat.Load()), name); len(near) > 0 {
		msg += "; did you mean " + quoteList(near) + "?"
	}
	return entry{}, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: msg}
}

// unavailable says why r has no catalogue at all, or "" if it has one or
// may still deliver it in time.
func (s *Server) unavailable(r *route) string {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.sources[r.cfg.Name] != nil:
		return ""
	case r.state.failed != "":
		return r.state.failed
	case !now.Before(r.deadline()):
		return fmt.Sprintf("no catalogue within its start timeout (%s); still trying", r.cfg.StartBound())
	}
	return ""
}

// owners says which upstreams could own an exposed name.
type owners struct {
	could    func(*route) bool
	byPrefix *route        // the upstream whose prefix the name starts with, if any
	timeout  time.Duration // the longest request timeout among them
}

// owners returns the upstreams that could own name: the one whose prefix it
// starts with (whole, or as a shortened name keeps it) and those without a
// prefix, or every one if no prefix fits.
func (s *Server) owners(name string) owners {
	head, _, _ := strings.Cut(name, nameSep)
	var o owners
	for _, r := range s.routes() {
		p, _ := clean(r.cfg.ExposedPrefix())
		if p == "" {
			continue
		}
		if head == p {
			o.byPrefix = r
			break
		}
		if o.byPrefix == nil && len(head) >= minPrefixKeep && strings.HasPrefix(p, head) {
			o.byPrefix = r
		}
	}
	o.could = func(r *route) bool {
		return o.byPrefix == nil || r == o.byPrefix || r.cfg.ExposedPrefix() == ""
	}
	for _, r := range s.routes() {
		if o.could(r) {
			o.timeout = max(o.timeout, r.cfg.RequestTimeout())
		}
	}
	return o
}

// capsKey is the session's relayed client capabilities in canonical form,
// as cached catalogues record them; "" while they are unknown.
func (sess *session) capsKey() string {
	caps, ok := sess.relayedCaps()
	if !ok {
		return ""
	}
	return canonical(caps)
}

// canonical returns raw JSON with object keys sorted and no white space;
// "" if it does not parse.
func canonical(raw json.RawMessage) string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "{}"
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// quoteList renders names as "a", "b" and "c".
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = string(jsonrpc.Quote(n))
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}
