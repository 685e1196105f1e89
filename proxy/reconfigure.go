package proxy

import (
	"maps"

	"github.com/mcpmux/mcpmux/registry"
)

// UpstreamChange is one upstream's part in [Server.Reconfigure].
type UpstreamChange struct {
	// Name is the server's name in the configuration.
	Name string
	// Cfg is its new entry; nil removes the upstream.
	Cfg *registry.Server
	// Up reaches it. The same Upstream as before keeps what the proxy
	// knows of it (its catalogue, whether it failed); another one starts
	// afresh, its start timeout running from now.
	Up Upstream
	// KeepCatalogue, with another Up, keeps serving the catalogue of the
	// one before until the new one delivers its own: it still describes
	// the server (the upstream is restarted with the same command, say).
	KeepCatalogue bool
}

// Reconfigure adds, removes and replaces upstreams while clients are
// served, all at once: requests to the upstreams it does not name are not
// disturbed, the merged catalogue changes in one step, and the client is
// told once of each list that changed. An upstream whose entry changed
// only in how it is shown (prefix, tool filter, overrides) keeps its Up,
// and its catalogue is merged again under the new entry, with no new
// catalogue from it. Requests in flight to a removed or replaced Upstream
// are left to it: they end as it stops.
func (s *Server) Reconfigure(changes []UpstreamChange) {
	now := s.clock.Now()
	cats := map[string]*registry.Catalogue{}
	var keep []string
	s.mu.Lock()
	for _, ch := range changes {
		old := s.upstreams[ch.Name]
		if ch.Cfg == nil {
			delete(s.upstreams, ch.Name)
			cats[ch.Name] = nil
			continue
		}
		r := &route{cfg: ch.Cfg, up: ch.Up, state: catalogueState{added: now}}
		same := old != nil && old.up == ch.Up
		if same {
			r.state = old.state
		}
		s.upstreams[ch.Name] = r
		switch {
		case same || ch.KeepCatalogue:
			keep = append(keep, ch.Name)
		case old != nil:
			cats[ch.Name] = nil
		}
	}
	routes := maps.Clone(s.upstreams)
	s.routing.Store(&routes)
	s.changedLocked()
	s.mu.Unlock()
	s.setCatalogues(cats, keep, false)
}
