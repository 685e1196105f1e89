package proxy

import (
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/proxy/search"
	"github.com/mcpmux/mcpmux/registry"
)

// ToolMode says how the server lists its tools (see [registry.ToolModeAuto]).
// The zero value is auto mode with the default budget.
type ToolMode struct {
	// Mode is registry.ToolModeFull, ToolModeSearch or ToolModeAuto; ""
	// means auto.
	Mode string
	// Budget is how large a catalogue auto mode lists in full.
	Budget registry.ToolBudget
	// AlwaysList are the exposed names (or patterns) that search mode
	// lists as themselves, besides the tools of servers with alwaysList.
	AlwaysList []string
	// Profiles are the subsets of the catalogue that sessions opened for
	// a profile (ServeProfile, OpenProfile) see, by name.
	Profiles map[string]*registry.Profile
}

func (m ToolMode) mode() string {
	if m.Mode == "" {
		return registry.ToolModeAuto
	}
	return m.Mode
}

// view is what the client is shown of a catalogue under a tool mode:
// made once per catalogue version and mode (see Server.view).
type view struct {
	cat     *catalogue
	mode    *ToolMode
	profile *registry.Profile // nil for the whole catalogue
	search  bool              // search mode is in force
	why     string            // why, in a phrase
	all     list              // the tools the view has: the whole catalogue's, or the profile's
	tools   list              // what tools/list answers
}

// SetToolMode sets how the server lists its tools; a change that shows
// the client another list tells it.
func (s *Server) SetToolMode(m ToolMode) {
	s.mergeMu.Lock()
	s.toolMode.Store(&m)
	if m.mode() != registry.ToolModeFull {
		s.indexAll()
	}
	changed, _ := s.refreshView()
	profiles := s.refreshProfiles()
	s.mergeMu.Unlock()
	for _, sess := range s.openSessions() {
		if sess.profile == "" && changed || sess.profile != "" && profiles[sess.profile] {
			sess.listChanged(toolsChanged)
		}
	}
}

// ToolModeInForce says whether search mode is in force, and why.
func (s *Server) ToolModeInForce() (mode, why string) {
	v := s.view()
	return modeName(v.search), v.why
}

// view returns what the client is shown now.
func (s *Server) view() *view {
	cat, m := s.cat.Load(), s.toolMode.Load()
	if v := s.shown.Load(); v != nil && v.cat == cat && v.mode == m {
		return v
	}
	v := s.makeView(cat, m, nil)
	s.shown.Store(v)
	return v
}

// viewOf returns what a session of the named profile is shown now; ""
// is the whole catalogue. A profile a reload removed shows nothing.
func (s *Server) viewOf(profile string) *view {
	if profile == "" {
		return s.view()
	}
	cat, m := s.cat.Load(), s.toolMode.Load()
	if v, ok := s.profileViews.Load(profile); ok && v.(*view).cat == cat && v.(*view).mode == m {
		return v.(*view)
	}
	v := s.makeView(cat, m, profileOf(m, profile))
	s.profileViews.Store(profile, v)
	return v
}

// nothing is the profile of a name no profile has (any longer): it
// allows no tool.
var nothing = &registry.Profile{Servers: []string{""}}

func profileOf(m *ToolMode, name string) *registry.Profile {
	if p := m.Profiles[name]; p != nil {
		return p
	}
	return nothing
}

// HasProfile reports whether the named profile is configured.
func (s *Server) HasProfile(name string) bool {
	return s.toolMode.Load().Profiles[name] != nil
}

// refreshProfiles makes the views of every profile that a session uses
// for the current catalogue, and returns the names of those whose list
// changed. s.mergeMu is held.
func (s *Server) refreshProfiles() map[string]bool {
	changed := map[string]bool{}
	cat, m := s.cat.Load(), s.toolMode.Load()
	for _, sess := range s.openSessions() {
		name := sess.profile
		if name == "" || changed[name] {
			continue
		}
		var old *view
		if v, ok := s.profileViews.Load(name); ok {
			old = v.(*view)
		}
		v := s.makeView(cat, m, profileOf(m, name))
		s.profileViews.Store(name, v)
		changed[name] = old == nil || old.search != v.search || !sameList(old.tools, v.tools)
	}
	return changed
}

// refreshView makes the view of the current catalogue. changed reports
// that the mode in force changed, or that search mode's list did; search
// that search mode is in force. s.mergeMu is held.
func (s *Server) refreshView() (changed, search bool) {
	old := s.shown.Load()
	v := s.makeView(s.cat.Load(), s.toolMode.Load(), nil)
	s.shown.Store(v)
	if old != nil && old.search != v.search {
		s.logger.Info("tool mode changed", "mode", modeName(v.search), "why", v.why)
	}
	return old == nil || old.search != v.search || v.search && !sameList(old.tools, v.tools), v.search
}

func modeName(search bool) string {
	if search {
		return registry.ToolModeSearch
	}
	return registry.ToolModeFull
}

// makeView decides the mode in force for cat, or for the part of it
// that profile p has (nil for the whole), and what it lists.
func (s *Server) makeView(cat *catalogue, m *ToolMode, p *registry.Profile) *view {
	v := &view{cat: cat, mode: m, profile: p, all: cat.tools}
	mode, always := m.mode(), m.AlwaysList
	if p != nil {
		v.all = filterList(cat.tools, func(e entry) bool { return p.Allows(e.server, e.key) })
		if p.ToolMode != "" {
			mode = p.ToolMode
		}
		if p.AlwaysList != nil {
			always = p.AlwaysList
		}
	}
	v.tools = v.all
	tokens := 0
	if mode == registry.ToolModeAuto {
		tokens = registry.EstimateTokens(len(v.all.render("tools"))) // rendered once, as tools/list would
	}
	v.search, v.why = registry.DecideToolMode(mode, m.Budget, v.all.t.Len(), tokens)
	if p != nil {
		v.why = "profile " + p.Name + ": " + v.why
	}
	if v.search {
		v.tools = s.searchList(v.all, always)
	}
	return v
}

// filterList returns the entries of l that keep keeps.
func filterList(l list, keep func(entry) bool) list {
	var t tree[entry]
	for _, e := range l.entries() {
		if keep(e) {
			t = t.Set(e.key, e)
		}
	}
	return newList(t)
}

// searchList is what tools/list answers in search mode: the three tools
// of search mode and those of all always listed.
func (s *Server) searchList(all list, always []string) list {
	var t tree[entry]
	if len(always) > 0 || s.anyAlwaysList() {
		for _, e := range all.entries() {
			r := s.route(e.server)
			var cfg *registry.Server
			if r != nil {
				cfg = r.cfg
			}
			if registry.AlwaysListed(always, cfg, e.key) {
				t = t.Set(e.key, e)
			}
		}
	}
	for _, e := range metaEntries {
		t = t.Set(e.key, e)
	}
	return newList(t)
}

// anyAlwaysList reports whether a server has alwaysList set.
func (s *Server) anyAlwaysList() bool {
	for _, r := range *s.routing.Load() {
		if r.cfg.AlwaysList {
			return true
		}
	}
	return false
}

// sameList reports whether two lists show the same entries.
func sameList(a, b list) bool {
	if a.t.Len() != b.t.Len() {
		return false
	}
	ea, eb := a.entries(), b.entries()
	for i := range ea {
		if !sameEntry(ea[i], eb[i]) {
			return false
		}
	}
	return true
}

// indexTools brings the search index up to date with the tools whose
// exposed names keys are, as the merge just left them. s.mergeMu is held.
func (s *Server) indexTools(keys []string) {
	if !s.indexing {
		return
	}
	cat := s.merge.cur
	var put []entry
	for _, k := range keys {
		if e, ok := cat.tools.get(k); ok {
			put = append(put, e)
		} else {
			s.index.Delete(k)
		}
	}
	s.index.PutAll(s.searchDocs(put))
}

// indexAll indexes the whole catalogue, once: search mode may be needed
// from now on. s.mergeMu is held.
func (s *Server) indexAll() {
	if s.indexing {
		return
	}
	s.indexing = true
	s.index.PutAll(s.searchDocs(s.merge.cur.tools.entries()))
}

// searchDocs is searchDoc of each of entries; many are read on all CPUs,
// since reading a definition's JSON costs as much as indexing it.
// s.mergeMu is held.
func (s *Server) searchDocs(entries []entry) []search.Doc {
	docs := make([]search.Doc, len(entries))
	workers := min(runtime.GOMAXPROCS(0), len(entries)/256, 8)
	if workers < 2 {
		for i, e := range entries {
			docs[i] = s.searchDoc(e)
		}
		return docs
	}
	for _, e := range entries { // serverText fills a cache: once, here
		s.serverText(e.server)
	}
	var wg sync.WaitGroup
	for w := range workers {
		from, to := w*len(entries)/workers, (w+1)*len(entries)/workers
		wg.Go(func() {
			for i := from; i < to; i++ {
				docs[i] = s.searchDoc(entries[i])
			}
		})
	}
	wg.Wait()
	return docs
}

// searchDoc is what the index reads of the tool e.
func (s *Server) searchDoc(e entry) search.Doc {
	t := search.ParseTool(e.raw)
	d := search.Doc{Name: e.key, Server: e.server, Tool: e.original}
	d.Text[search.FieldName] = e.key + " " + e.original
	d.Text[search.FieldTitle] = t.Title
	d.Text[search.FieldDescription] = t.Description
	d.Text[search.FieldParams] = t.Params
	d.Text[search.FieldServer] = s.serverText(e.server)
	return d
}

// maxServerText bounds the server's text each of its tools is indexed
// with: its name, title and the start of its instructions.
const maxServerText = 400

// serverText is the server's name, title and instructions, for the
// index. s.mergeMu is held.
func (s *Server) serverText(server string) string {
	src := s.merge.sources[server]
	if src == nil {
		return server
	}
	if src.searchText == "" {
		info := serverInfo(src.cat)
		text := strings.Join([]string{server, info.Name, info.Title, info.Description, src.cat.Instructions}, " ")
		src.searchText = text[:min(len(text), maxServerText)]
	}
	return src.searchText
}

// upstreamInfo is what an upstream says of itself in its serverInfo.
type upstreamInfo struct {
	Name, Title, Description string
}

func serverInfo(c *registry.Catalogue) upstreamInfo {
	var info upstreamInfo
	info.Name, _ = jsonrpc.StringMember(c.ServerInfo, "name")
	info.Title, _ = jsonrpc.StringMember(c.ServerInfo, "title")
	info.Description, _ = jsonrpc.StringMember(c.ServerInfo, "description")
	return info
}

// ToolWarnings says what hosts will do to the catalogue, in full mode:
// drop tools past their limits, cut long descriptions. In search mode
// there is nothing to say.
func (s *Server) ToolWarnings() []string {
	v := s.view()
	if v.search {
		return nil
	}
	var long []string
	for _, e := range v.cat.tools.entries() {
		if d, _ := jsonrpc.StringMember(e.raw, "description"); len(d) > registry.ClaudeCodeDescMax {
			long = append(long, fmt.Sprintf("%s (%d bytes)", e.key, len(d)))
		}
	}
	return registry.ToolWarnings(v.cat.tools.t.Len(), long)
}
