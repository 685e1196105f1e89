package proxy

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"sort"

	"github.com/yosida95/uritemplate/v3"

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

// source is one upstream's contribution to the merged catalogue.
type source struct {
	server string
	prefix string
	cat    *registry.Catalogue
}

// buildCatalogue merges the sources.
func buildCatalogue(sources []source, logger *slog.Logger) *catalogue {
	sort.Slice(sources, func(i, j int) bool { return sources[i].server < sources[j].server })
	c := &catalogue{upstreams: map[string]*registry.Catalogue{}}
	for _, src := range sources {
		c.upstreams[src.server] = src.cat
	}
	c.tools = namedList(sources, "tool", func(c *registry.Catalogue) []json.RawMessage { return c.Tools }, logger)
	c.prompts = namedList(sources, "prompt", func(c *registry.Catalogue) []json.RawMessage { return c.Prompts }, logger)
	c.resources = uriList(sources, func(c *registry.Catalogue) []json.RawMessage { return c.Resources }, "uri", logger)
	c.templates = uriList(sources, func(c *registry.Catalogue) []json.RawMessage { return c.ResourceTemplates }, "uriTemplate", logger)
	for _, e := range c.templates.entries {
		m, _ := uritemplate.New(e.key)
		c.matchers = append(c.matchers, m)
	}
	return c
}

// namedList merges tools or prompts under exposed names. Entries without
// a name are left out and logged; a name listed twice keeps the first.
func namedList(sources []source, kind string, items func(*registry.Catalogue) []json.RawMessage, logger *slog.Logger) list {
	var names []NameEntry
	var raws []json.RawMessage
	for _, src := range sources {
		seen := map[string]bool{}
		for _, raw := range items(src.cat) {
			name, ok := stringMember(raw, "name")
			if !ok || seen[name] {
				logger.Warn("upstream "+kind+" without a name or listed twice; left out", "upstream", src.server, kind, name)
				continue
			}
			seen[name] = true
			names = append(names, NameEntry{Server: src.server, Prefix: src.prefix, Original: name})
			raws = append(raws, raw)
		}
	}
	exposed := AssignNames(names)
	var entries []entry
	for i, n := range names {
		raw, err := withString(raws[i], "name", exposed[i])
		if err != nil {
			logger.Warn("upstream "+kind+" is not a JSON object; left out", "upstream", n.Server, kind, n.Original)
			continue
		}
		entries = append(entries, entry{key: exposed[i], server: n.Server, original: n.Original, raw: raw})
	}
	return newList(entries)
}

// uriList merges resources or templates by URI, unchanged. The first
// server (by name) to list a URI owns it; the others' entries are logged.
func uriList(sources []source, items func(*registry.Catalogue) []json.RawMessage, field string, logger *slog.Logger) list {
	var entries []entry
	owner := map[string]string{}
	for _, src := range sources {
		for _, raw := range items(src.cat) {
			uri, ok := stringMember(raw, field)
			if !ok {
				logger.Warn("upstream resource without a "+field+"; left out", "upstream", src.server)
				continue
			}
			if first, taken := owner[uri]; taken {
				if first != src.server {
					logger.Warn("two upstreams list one URI; the first by name serves it", field, uri, "served_by", first, "ignored", src.server)
				}
				continue
			}
			owner[uri] = src.server
			entries = append(entries, entry{key: uri, server: src.server, original: uri, raw: raw})
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
