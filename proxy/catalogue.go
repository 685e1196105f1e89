package proxy

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"sort"

	"github.com/yosida95/uritemplate/v3"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/registry"
)

// catalogue is an immutable snapshot of the merged view of every upstream.
// A new one replaces the old whenever an upstream's catalogue changes.
//
// Tools and prompts are renamed (see [AssignNames]). Resources and
// templates keep their URIs, because tools return links to them that
// clients read back: a URI belongs to the upstream that lists it, and a URI
// two upstreams both list belongs to the one whose name sorts first.
type catalogue struct {
	tools     list                    // keyed by exposed name
	prompts   list                    // keyed by exposed name
	resources list                    // keyed by URI
	templates list                    // keyed by URI template
	matchers  []*uritemplate.Template // parallel to templates; nil where one does not parse
	upstreams map[string]*registry.Catalogue
}

// list is a sorted list of entries with an index by key.
type list struct {
	entries []entry
	byKey   map[string]int
}

// entry is one tool, prompt or resource as the client sees it.
type entry struct {
	key      string // the exposed name, or the URI of a resource
	server   string
	original string          // the upstream's name (or URI)
	raw      json.RawMessage // the upstream's object, renamed where named
}

// source is one upstream's contribution to the merged catalogue, parsed
// once when its catalogue arrives, so that merging is cheap however often
// other upstreams change.
type source struct {
	server  string
	prefix  string
	cat     *registry.Catalogue
	caps    string // cat.ClientCapabilities, canonical
	tools   []named
	prompts []named
	// resources and templates keyed by URI, in the upstream's order.
	resources, templates []entry
}

// named is one upstream tool or prompt. It remembers the last name it was
// exposed under with its renamed object, which is reused while the name
// stays the same.
type named struct {
	original string
	raw      json.RawMessage
	exposed  string
	renamed  json.RawMessage
}

// newSource parses an upstream's catalogue, keeping the tools that cfg's
// tool filter allows. Entries without a usable name or URI are left out and
// logged; a name listed twice keeps the first.
func newSource(cfg *registry.Server, cat *registry.Catalogue, logger *slog.Logger) *source {
	server := cfg.Name
	tools := parseNamed(server, "tool", cat.Tools, logger)
	tools = slices.DeleteFunc(tools, func(n named) bool { return !cfg.ToolAllowed(n.original) })
	return &source{
		server:    server,
		prefix:    cfg.ExposedPrefix(),
		cat:       cat,
		caps:      canonical(cat.ClientCapabilities),
		tools:     tools,
		prompts:   parseNamed(server, "prompt", cat.Prompts, logger),
		resources: parseURIs(server, "uri", cat.Resources, logger),
		templates: parseURIs(server, "uriTemplate", cat.ResourceTemplates, logger),
	}
}

func parseNamed(server, kind string, items []json.RawMessage, logger *slog.Logger) []named {
	var out []named
	seen := map[string]bool{}
	for _, raw := range items {
		name, ok := jsonrpc.StringMember(raw, "name")
		if !ok || seen[name] {
			logger.Warn("upstream "+kind+" without a name or listed twice; left out", "upstream", server, kind, name)
			continue
		}
		seen[name] = true
		out = append(out, named{original: name, raw: raw})
	}
	return out
}

func parseURIs(server, field string, items []json.RawMessage, logger *slog.Logger) []entry {
	var out []entry
	for _, raw := range items {
		uri, ok := jsonrpc.StringMember(raw, field)
		if !ok {
			logger.Warn("upstream resource without a "+field+"; left out", "upstream", server)
			continue
		}
		out = append(out, entry{key: uri, server: server, original: uri, raw: raw})
	}
	return out
}

// merger says how buildCatalogue names entries and reports what it finds.
type merger struct {
	logger     *slog.Logger
	nameLength int                                          // see AssignNames
	conflict   func(uri, servedBy, ignored string)          // a URI two upstreams list; nil ignores
	renamed    func(kind, server, original, exposed string) // an entry not exposed as prefix__name; nil ignores
}

// buildCatalogue merges the sources.
func buildCatalogue(sources []*source, m merger) *catalogue {
	sort.Slice(sources, func(i, j int) bool { return sources[i].server < sources[j].server })
	c := &catalogue{upstreams: map[string]*registry.Catalogue{}}
	for _, src := range sources {
		c.upstreams[src.server] = src.cat
	}
	c.tools = mergeNamed(sources, "tool", func(s *source) []named { return s.tools }, m)
	c.prompts = mergeNamed(sources, "prompt", func(s *source) []named { return s.prompts }, m)
	c.resources = mergeURIs(sources, func(s *source) []entry { return s.resources }, m.conflict)
	c.templates = mergeURIs(sources, func(s *source) []entry { return s.templates }, m.conflict)
	for _, e := range c.templates.entries {
		m, _ := uritemplate.New(e.key)
		c.matchers = append(c.matchers, m)
	}
	return c
}

// mergeNamed exposes the tools or prompts of every source under the names
// AssignNames gives them.
func mergeNamed(sources []*source, kind string, items func(*source) []named, m merger) list {
	var names []NameEntry
	var refs []*named
	for _, src := range sources {
		for i := range items(src) {
			n := &items(src)[i]
			names = append(names, NameEntry{Server: src.server, Prefix: src.prefix, Original: n.original})
			refs = append(refs, n)
		}
	}
	exposed := AssignNames(names, m.nameLength)
	entries := make([]entry, 0, len(refs))
	for i, n := range refs {
		if n.exposed != exposed[i] || n.renamed == nil {
			raw, err := jsonrpc.Set(n.raw, "name", jsonrpc.Quote(exposed[i]))
			if err != nil {
				m.logger.Warn("upstream entry is not a JSON object; left out", "upstream", names[i].Server, "name", n.original)
				continue
			}
			n.exposed, n.renamed = exposed[i], raw
		}
		if plain := plainName(names[i]); exposed[i] != plain && m.renamed != nil {
			m.renamed(kind, names[i].Server, n.original, exposed[i])
		}
		entries = append(entries, entry{key: n.exposed, server: names[i].Server, original: n.original, raw: n.renamed})
	}
	return newList(entries)
}

// plainName is the name e would have if it needed no change: its prefix
// and its own name.
func plainName(e NameEntry) string {
	if e.Prefix == "" {
		return e.Original
	}
	return e.Prefix + nameSep + e.Original
}

// mergeURIs merges resources or templates by URI, unchanged. The first
// server (by name) to list a URI owns it; the others' entries are logged.
func mergeURIs(sources []*source, items func(*source) []entry, conflict func(uri, servedBy, ignored string)) list {
	var entries []entry
	owner := map[string]string{}
	for _, src := range sources {
		for _, e := range items(src) {
			if first, taken := owner[e.key]; taken {
				if first != src.server && conflict != nil {
					conflict(e.key, first, src.server)
				}
				continue
			}
			owner[e.key] = src.server
			entries = append(entries, e)
		}
	}
	return newList(entries)
}

func newList(entries []entry) list {
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	l := list{entries: entries, byKey: make(map[string]int, len(entries))}
	for i, e := range entries {
		l.byKey[e.key] = i
	}
	return l
}

// get returns the entry with the given key.
func (l list) get(key string) (entry, bool) {
	i, ok := l.byKey[key]
	if !ok {
		return entry{}, false
	}
	return l.entries[i], true
}

// resourceOwner returns who serves uri: the upstream that lists it, else
// the first template (by template, then server) that matches it.
func (c *catalogue) resourceOwner(uri string) (entry, bool) {
	if e, ok := c.resources.get(uri); ok {
		return e, true
	}
	for i, m := range c.matchers {
		if m != nil && m.Match(uri) != nil {
			return c.templates.entries[i], true
		}
	}
	return entry{}, false
}

// templateOwner returns the upstream that lists the template uri, or
// else the one that serves uri as a resource.
func (c *catalogue) templateOwner(uri string) (entry, bool) {
	if e, ok := c.templates.get(uri); ok {
		return e, true
	}
	return c.resourceOwner(uri)
}

// same reports whether two lists hold the same entries, byte for byte.
func (l list) same(o list) bool {
	if len(l.entries) != len(o.entries) {
		return false
	}
	for i := range l.entries {
		if l.entries[i].key != o.entries[i].key || !bytes.Equal(l.entries[i].raw, o.entries[i].raw) {
			return false
		}
	}
	return true
}

// changes returns the list_changed notifications that going from a to b
// calls for.
func changes(a, b *catalogue) []string {
	var out []string
	if !a.tools.same(b.tools) {
		out = append(out, "notifications/tools/list_changed")
	}
	if !a.prompts.same(b.prompts) {
		out = append(out, "notifications/prompts/list_changed")
	}
	if !a.resources.same(b.resources) || !a.templates.same(b.templates) {
		out = append(out, "notifications/resources/list_changed")
	}
	return out
}
