package proxy

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"sort"

	"github.com/mcpmux/mcpmux/registry"
)

// catalogue is an immutable snapshot of the merged view of every upstream.
// A new one replaces the old whenever an upstream's catalogue changes.
type catalogue struct {
	tools  []entry // sorted by exposed name
	byName map[string]int
}

// entry is one tool (or prompt) as the client sees it.
type entry struct {
	exposed  string
	server   string
	original string
	raw      json.RawMessage // the upstream's object, with name rewritten
}

// source is one upstream's contribution to the merged catalogue.
type source struct {
	server string
	prefix string
	cat    *registry.Catalogue
}

// buildCatalogue merges the sources. Entries without a usable name are
// left out and logged; an upstream listing one name twice keeps the first.
func buildCatalogue(sources []source, logger *slog.Logger) *catalogue {
	sort.Slice(sources, func(i, j int) bool { return sources[i].server < sources[j].server })
	var names []NameEntry
	var raws []json.RawMessage
	for _, src := range sources {
		seen := map[string]bool{}
		for _, raw := range src.cat.Tools {
			name, ok := stringMember(raw, "name")
			if !ok {
				logger.Warn("upstream tool without a name; left out", "upstream", src.server)
				continue
			}
			if seen[name] {
				logger.Warn("upstream lists a tool twice; keeping the first", "upstream", src.server, "tool", name)
				continue
			}
			seen[name] = true
			names = append(names, NameEntry{Server: src.server, Prefix: src.prefix, Original: name})
			raws = append(raws, raw)
		}
	}
	return newCatalogue(names, raws, logger)
}

func newCatalogue(names []NameEntry, raws []json.RawMessage, logger *slog.Logger) *catalogue {
	exposed := AssignNames(names)
	c := &catalogue{tools: make([]entry, 0, len(names)), byName: make(map[string]int, len(names))}
	for i, n := range names {
		raw, err := withString(raws[i], "name", exposed[i])
		if err != nil {
			logger.Warn("upstream tool is not a JSON object; left out", "upstream", n.Server, "tool", n.Original, "err", err)
			continue
		}
		c.tools = append(c.tools, entry{exposed: exposed[i], server: n.Server, original: n.Original, raw: raw})
	}
	sort.Slice(c.tools, func(i, j int) bool { return c.tools[i].exposed < c.tools[j].exposed })
	for i, t := range c.tools {
		c.byName[t.exposed] = i
	}
	return c
}

// tool returns the tool exposed as name.
func (c *catalogue) tool(name string) (entry, bool) {
	i, ok := c.byName[name]
	if !ok {
		return entry{}, false
	}
	return c.tools[i], true
}

// sameTools reports whether two catalogues list the same tools, byte for
// byte, so that clients are told of a change only when there is one.
func sameTools(a, b *catalogue) bool {
	if a == nil || b == nil || len(a.tools) != len(b.tools) {
		return a == b
	}
	for i := range a.tools {
		if a.tools[i].exposed != b.tools[i].exposed || !bytes.Equal(a.tools[i].raw, b.tools[i].raw) {
			return false
		}
	}
	return true
}
