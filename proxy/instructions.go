package proxy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mcpmux/mcpmux/upstream"
)

// The instructions mcpmux sends in initialize (and server/discover) are
// its own short text, then each upstream's instructions under a heading
// with its prefix ("## everything__ tools"), in the order of the servers'
// names. Hosts put the text into the model's context at every request,
// and fix it at the handshake: a change an upstream makes later reaches
// no client that has initialized already.
//
// Hosts bound the text: Claude Code keeps the first 2,048 characters of
// each server's instructions, so through mcpmux every upstream shares those
// (the first sections reach the model whole, later ones are cut by the
// host). Other hosts take it whole, and pay for it in tokens. mcpmux caps
// each upstream's part at MaxUpstreamInstructions and the whole at
// MaxInstructions, saying so where it cuts.
const (
	// DefaultInstructionsWait bounds how long a client's initialize waits
	// for the upstreams' handshakes, when neither they nor a cache have
	// told their instructions yet.
	DefaultInstructionsWait = 3 * time.Second
	// MaxUpstreamInstructions bounds one upstream's instructions, in
	// bytes; a longer text is cut, with a note.
	MaxUpstreamInstructions = 2 << 10
	// MaxInstructions bounds the whole text, in bytes: the sections of the
	// upstreams that do not fit are left out, with a note that names them.
	MaxInstructions = 8 << 10
)

// ownInstructions is mcpmux's own part, first. It is short: a host that
// cuts the text at 2 KB keeps the upstreams' parts.
const ownInstructions = "mcpmux serves the tools, prompts and resources of several MCP servers; " +
	"each tool and prompt name starts with its server's prefix (prefix__name)."

// upstreamsSaid introduces the upstreams' parts, whose words are theirs.
const upstreamsSaid = " Below, each server's own instructions, under a heading with its prefix."

// UpstreamHandshake tells the proxy what an upstream said about itself in
// a handshake: its instructions are relayed to the clients that
// initialize from now on.
func (s *Server) UpstreamHandshake(server string, h upstream.Handshake) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.upstreams[server]
	if r == nil {
		return
	}
	r.state.shook = true
	r.state.instructions = h.Instructions
	s.changedLocked()
}

// Instructions returns the text that initialize and server/discover
// carry: mcpmux's own, then each upstream's instructions, from its last
// handshake or, until it has one, from its cached catalogue. It is the one
// place that text is built: search mode replaces it with a summary of the
// servers.
func (s *Server) Instructions() string { return s.instructionsFor(s.view()) }

// instructionsFor is Instructions for a session shown v: a profile's
// tells of its servers only.
func (s *Server) instructionsFor(v *view) string {
	if v.search {
		return s.searchInstructions(v.profile)
	}
	parts := s.upstreamInstructions()
	if p := v.profile; p != nil && len(p.Servers) > 0 {
		parts = slices.DeleteFunc(parts, func(u upstreamText) bool { return !slices.Contains(p.Servers, u.server) })
	}
	return composeInstructions(parts)
}

// upstreamText is one upstream's instructions, with what names it.
type upstreamText struct {
	server  string
	heading string // "everything__ tools"
	text    string
}

// upstreamInstructions returns the instructions the upstreams are known
// to have, sorted by server name.
func (s *Server) upstreamInstructions() []upstreamText {
	routes := s.routes()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]upstreamText, 0, len(routes))
	for _, r := range routes {
		text := r.state.instructions
		if src := s.sources[r.cfg.Name]; !r.state.shook && src != nil && src.cat != nil {
			text = src.cat.Instructions
		}
		if text == "" {
			continue
		}
		out = append(out, upstreamText{server: r.cfg.Name, heading: heading(r.cfg.Name, r.cfg.ExposedPrefix()), text: text})
	}
	return out
}

// heading names an upstream's section by the prefix its tools have.
func heading(server, prefix string) string {
	if p, _ := clean(prefix); p != "" {
		return p + nameSep + " tools"
	}
	name, _ := clean(server)
	return name + " tools (no prefix)"
}

// composeInstructions builds the text of initialize from the upstreams'
// parts (see MaxInstructions).
func composeInstructions(parts []upstreamText) string {
	var b strings.Builder
	b.WriteString(ownInstructions)
	if len(parts) == 0 {
		return b.String()
	}
	b.WriteString(upstreamsSaid)
	var left []string
	for _, p := range parts {
		text := capInstructions(p.server, tidyInstructions(p.text))
		if text == "" {
			continue
		}
		section := "\n\n## " + p.heading + "\n\n" + text
		if b.Len()+len(section) > MaxInstructions-maxLeftOutNote {
			left = append(left, p.server)
			continue
		}
		b.WriteString(section)
	}
	if len(left) > 0 {
		b.WriteString(leftOutNote(left))
	}
	return b.String()
}

// maxLeftOutNote is the room kept for the note that names the upstreams
// whose parts were left out.
const maxLeftOutNote = 300

// leftOutNote says whose instructions were left out, naming as many as
// the note's room allows.
func leftOutNote(servers []string) string {
	const head, tail = "\n\n(mcpmux left out the instructions of ", ": all servers' instructions together are capped at 8 KB.)"
	named := servers
	for len(named) > 0 && len(head)+len(tail)+len(quoteList(named))+len(" and 999 more") > maxLeftOutNote {
		named = named[:len(named)-1]
	}
	who := quoteList(named)
	switch rest := len(servers) - len(named); {
	case len(named) == 0:
		who = fmt.Sprintf("%d servers", len(servers))
	case rest > 0:
		who = strings.Join(quotedEach(named), ", ") + fmt.Sprintf(" and %d more", rest)
	}
	return head + who + tail
}

func quotedEach(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = quoteList([]string{n})
	}
	return out
}

// capInstructions cuts one upstream's text to MaxUpstreamInstructions,
// note included, at a line or a word if one is near, and says so.
func capInstructions(server, text string) string {
	if len(text) <= MaxUpstreamInstructions {
		return text
	}
	note := fmt.Sprintf("\n\n(mcpmux cut %s's instructions here, at 2 KB of %d bytes.)", quoteList([]string{server}), len(text))
	if len(note) > MaxUpstreamInstructions/2 {
		note = fmt.Sprintf("\n\n(mcpmux cut this server's instructions here, at 2 KB of %d bytes.)", len(text))
	}
	cut := MaxUpstreamInstructions - len(note)
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	head := text[:cut]
	if i := strings.LastIndexAny(head, "\n "); i > cut*3/4 {
		head = head[:i]
	}
	return strings.TrimRightFunc(head, unicode.IsSpace) + note
}

// tidyInstructions makes an upstream's text safe to nest in mcpmux's:
// invalid UTF-8 and control characters other than line breaks and tabs
// are dropped, line breaks become "\n", and its Markdown headings go two
// levels down, under the section's own, so that no upstream can write a
// heading that reads as another server's section.
func tidyInstructions(text string) string {
	text = strings.ToValidUTF8(text, "")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r':
			return '\n'
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return -1
		}
		return r
	}, text)
	lines := strings.Split(strings.TrimSpace(text), "\n")
	fenced := false
	for i, line := range lines {
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~"):
			fenced = !fenced
		case !fenced && isHeading(trimmed):
			lines[i] = "##" + trimmed
		}
	}
	return strings.Join(lines, "\n")
}

// instructionsWait is how long initialize waits for the upstreams'
// handshakes.
func (s *Server) instructionsWait() time.Duration {
	switch w := s.opts.InstructionsWait; {
	case w < 0:
		return 0
	case w == 0:
		return DefaultInstructionsWait
	default:
		return w
	}
}

// maxDiscoverWait bounds the wait of server/discover, below
// instructionsWait: a 2026-07-28 client probes with it and falls back to
// initialize if it has no answer soon enough (mcp-go's client waits 5 s,
// and a cold mcpmux on a loaded machine may take 2 s to read its first
// request), which would cost it its protocol revision.
const maxDiscoverWait = time.Second

// awaitHandshakes waits until every upstream's instructions are known
// (see handshakePendingLocked), at most bound, or until ctx ends. A
// client's initialize waits here (bound is instructionsWait): cold, the
// upstreams start with mcpmux, and their handshakes come long before
// their catalogues.
func (s *Server) awaitHandshakes(ctx context.Context, bound time.Duration) {
	now := s.clock.Now()
	deadline := now.Add(bound)
	for ; now.Before(deadline) && ctx.Err() == nil; now = s.clock.Now() {
		s.mu.Lock()
		changed := s.changed
		pending := false
		for _, r := range s.upstreams {
			pending = pending || s.handshakePendingLocked(r, now)
		}
		s.mu.Unlock()
		if !pending {
			return
		}
		s.releaseStart()
		t, fired := s.clock.NewTimer(deadline.Sub(now))
		select {
		case <-changed:
		case <-fired:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// handshakePendingLocked reports whether r's instructions may still come
// in time: it has neither shaken hands nor a catalogue (live or cached),
// and has not failed, gone idle or run out of its start timeout. s.mu is
// held.
func (s *Server) handshakePendingLocked(r *route, now time.Time) bool {
	st := r.state
	known := st.shook || st.live || s.sources[r.cfg.Name] != nil
	return !known && st.failed == "" && !st.idle && now.Before(r.deadline())
}

// isHeading reports whether line is a Markdown ATX heading: one to six
// "#", then a blank or the line's end.
func isHeading(line string) bool {
	n := len(line) - len(strings.TrimLeft(line, "#"))
	return n >= 1 && n <= 6 && (n == len(line) || line[n] == ' ' || line[n] == '\t')
}
