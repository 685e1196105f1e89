package proxy

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/registry/pin"
)

// Pinning happens at the merge: each upstream's tools and prompts are
// judged (registry/pin.Book.Check) as its catalogue is parsed, and those
// withheld never enter the merged catalogue. So every reader of the
// catalogue (the lists, the routing of calls, the names, search mode)
// sees one view, and a call to a withheld tool finds it withheld, with
// the command that approves it.

// Withheld is one tool or prompt that pinning withholds, or (policy
// "warn") lists all the same but shows.
type Withheld struct {
	Server string   `json:"server"`
	Kind   pin.Kind `json:"kind"`
	// Name is the upstream's own name, which mcpmux trust takes.
	Name string `json:"name"`
	// Exposed is the name a client would call it by.
	Exposed string `json:"exposed"`
	// Withheld is false under policy "warn": it is listed.
	Withheld bool `json:"withheld"`
	// Reason says what changed and what the scanner found.
	Reason string `json:"reason"`
	// Approve is the command that approves it.
	Approve string `json:"approve"`
}

// TrustCommand is the command that approves one tool or prompt of server.
func TrustCommand(server, name string) string {
	return "mcpmux trust " + shellWord(server) + " " + shellWord(name)
}

// shellWord quotes s for a POSIX shell if it needs it.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '_' || r == '-' || r == '.' || r == '/' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// pinning is the proxy's part of pinning; Server.mergeMu guards it.
type pinning struct {
	book   *pin.Book       // nil: pinning is off
	policy string          // the configuration's "toolPinning"
	index  *pin.Peers      // the peers last judged against; nil: judge everything again
	routes string          // the servers and prefixes index was made with
	logged map[string]bool // sightings logged, by server, kind, name and fingerprint
	dirty  bool            // the book changed since Book last copied it
}

// judge withholds the tools and prompts of src that pinning says to, and
// notes in src.held every one it withholds or warns of. s.mergeMu is held.
func (s *Server) judge(src *source, cfg *registry.Server, peers *pin.Peers) {
	p := &s.pins
	policy := pin.Policy(cfg.Pinning(p.policy))
	if p.book == nil || policy == pin.Off {
		return
	}
	own := make(map[string]bool, len(src.names))
	for _, n := range src.names {
		own[n] = true
	}
	now := s.clock.Now()
	keep := func(kind pin.Kind, list []*named) []*named {
		return slices.DeleteFunc(list, func(n *named) bool {
			v := p.book.Check(pin.Subject{Server: src.server, Kind: kind, Name: n.upstream, Raw: n.sent, Own: own, Peers: peers}, policy, now)
			p.dirty = p.dirty || v.Recorded
			if v.Sighting == nil {
				return false
			}
			w := Withheld{Server: src.server, Kind: kind, Name: n.upstream, Exposed: plainName(n.slot.entry), Withheld: v.Withhold,
				Reason: v.Sighting.Reason(), Approve: TrustCommand(src.server, n.upstream)}
			src.held = append(src.held, w)
			s.logSighting(w, v.Sighting)
			return v.Withhold
		})
	}
	src.tools = keep(pin.Tool, src.tools)
	src.prompts = keep(pin.Prompt, src.prompts)
}

// logSighting logs a sighting at warn, once per definition.
func (s *Server) logSighting(w Withheld, sg *pin.Sighting) {
	key := w.Server + "\x00" + string(w.Kind) + "\x00" + w.Name + "\x00" + sg.Fingerprint
	if s.pins.logged[key] {
		return
	}
	s.pins.logged[key] = true
	msg := string(w.Kind) + " withheld until approved"
	if !w.Withheld {
		msg = string(w.Kind) + " not approved; listed under toolPinning \"warn\""
	}
	s.logger.Warn(msg, "upstream", w.Server, string(w.Kind), w.Name, "reason", w.Reason, "approve", w.Approve)
}

// peers returns every configured server as the scanner's shadowing and
// imitation rules see it, with the names of built, then of the merged
// sources, and a signature of the servers and their prefixes. s.mergeMu
// is held.
func (s *Server) peers(built map[string]*source) ([]pin.Peer, string) {
	var out []pin.Peer
	for name, r := range *s.routing.Load() {
		p := pin.Peer{Server: name, Prefix: r.cfg.ExposedPrefix()}
		if src := cmp.Or(built[name], s.merge.sources[name]); src != nil {
			p.Names = src.names
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b pin.Peer) int { return strings.Compare(a.Server, b.Server) })
	var sig strings.Builder
	for _, p := range out {
		sig.WriteString(p.Server + "\x00" + p.Prefix + "\x00")
	}
	return out, sig.String()
}

// namesChanged reports whether any of built lists other names than the
// merged source it replaces. s.mergeMu is held.
func (s *Server) namesChanged(built map[string]*source) bool {
	for name, src := range built {
		old := s.merge.sources[name]
		if old == nil || !slices.Equal(old.names, src.names) {
			return true
		}
	}
	return false
}

// SetPins replaces the book of pins (read again from the registry after
// mcpmux trust approved something, say) and judges every upstream's
// catalogue anew; clients are told of the lists that change.
func (s *Server) SetPins(b *pin.Book) {
	s.mergeMu.Lock()
	s.pins.book = b
	s.pins.index = nil // judge everything again
	s.mergeMu.Unlock()
	s.setCatalogues(map[string]*registry.Catalogue{}, nil, false)
}

// SetPinning sets the configuration's "toolPinning" and judges every
// upstream's catalogue anew.
func (s *Server) SetPinning(policy string) {
	s.mergeMu.Lock()
	changed := s.pins.policy != policy
	s.pins.policy, s.pins.index = policy, nil
	s.mergeMu.Unlock()
	if changed {
		s.setCatalogues(map[string]*registry.Catalogue{}, nil, false)
	}
}

// Pins returns a copy of the book of pins and whether it changed since the
// last copy; nil if pinning is off.
func (s *Server) Pins() (*pin.Book, bool) {
	s.mergeMu.Lock()
	defer s.mergeMu.Unlock()
	if s.pins.book == nil {
		return nil, false
	}
	data, err := json.Marshal(s.pins.book)
	var cp pin.Book
	if err != nil || json.Unmarshal(data, &cp) != nil {
		return nil, false
	}
	dirty := s.pins.dirty
	s.pins.dirty = false
	return &cp, dirty
}

// Withheld returns the tools and prompts that pinning withholds or warns
// of, by server, kind and name.
func (s *Server) Withheld() []Withheld {
	s.mergeMu.Lock()
	defer s.mergeMu.Unlock()
	var out []Withheld
	for _, src := range s.merge.sources {
		out = append(out, src.held...)
	}
	slices.SortFunc(out, func(a, b Withheld) int {
		return cmp.Or(strings.Compare(a.Server, b.Server), strings.Compare(string(a.Kind), string(b.Kind)), strings.Compare(a.Name, b.Name))
	})
	return out
}

// withheldError is the error of a request for the tool or prompt exposed
// as name, if pinning withholds it.
func (s *Server) withheldError(kind, name string) error {
	held := s.held.Load()
	if held == nil {
		return nil
	}
	w, ok := (*held)[kind+"\x00"+name]
	if !ok {
		return nil
	}
	return jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "%s %q of upstream %q is withheld: %s. Review it (mcpmux trust --list), then approve it with: %s",
		kind, name, w.Server, w.Reason, w.Approve)
}

// indexHeld makes the index of withheld entries by kind and exposed name
// that withheldError reads. s.mergeMu is held.
func (s *Server) indexHeld() {
	idx := map[string]Withheld{}
	for _, src := range s.merge.sources {
		for _, w := range src.held {
			if w.Withheld {
				idx[string(w.Kind)+"\x00"+w.Exposed] = w
			}
		}
	}
	s.held.Store(&idx)
}

// judgeAll judges the sources of names that setCatalogues has just built
// (a nil one removes its upstream). When the peers the scanner sees
// changed (an upstream's names, a server added or removed), or the book or
// the policy did (peers ""), every other merged upstream's catalogue is
// parsed and judged anew too, into sources: it returns their names.
// s.mergeMu is held.
func (s *Server) judgeAll(sources map[string]*source, names []string) []string {
	if s.pins.book == nil {
		return nil
	}
	built := map[string]*source{}
	for _, name := range names {
		if src := sources[name]; src != nil {
			built[name] = src
		} else {
			built[name] = &source{server: name} // removed: no names
		}
	}
	peers, routes := s.peers(built)
	var again []string
	if s.pins.index == nil || routes != s.pins.routes || s.namesChanged(built) {
		s.pins.index, s.pins.routes = pin.NewPeers(peers), routes
		for name, old := range s.merge.sources {
			r := s.route(name)
			if slices.Contains(names, name) || r == nil {
				continue
			}
			sources[name] = newSource(r.cfg, old.cat, s.merge.maxLen, s.logger)
			again = append(again, name)
		}
		slices.Sort(again)
	}
	for _, name := range slices.Concat(names, again) {
		if src, r := sources[name], s.route(name); src != nil && r != nil {
			s.judge(src, r.cfg, s.pins.index)
		}
	}
	return again
}
