package proxy

import (
	"bytes"
	"cmp"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/yosida95/uritemplate/v3"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/registry"
)

// catalogue is an immutable snapshot of the merged view of every upstream.
// A new one replaces the old whenever an upstream's catalogue changes
// (see merge); readers load it without a lock and never wait for a merge.
//
// Tools and prompts are renamed (see [AssignNames]). Resources and
// templates keep their URIs, because tools return links to them that
// clients read back: a URI belongs to the upstream that lists it, and a URI
// two upstreams both list belongs to the one whose name sorts first.
type catalogue struct {
	tools     list // keyed by exposed name
	prompts   list // keyed by exposed name
	resources list // keyed by URI
	templates list // keyed by URI template
	upstreams tree[*registry.Catalogue]

	withStatus func() list // resources and mcpmux://status, made once
}

// list is a sorted list of entries, immutable. What is derived from it
// (the entries in order, the rendered answer to a list request) is made
// once, when first asked for, and shared by every reader of this version.
type list struct {
	t    tree[entry]
	memo *listMemo
}

// listMemo holds what a list version's readers derive from it.
type listMemo struct {
	entries  func() []entry
	rendered sync.Map // field → json.RawMessage, the whole list in one page
}

func newList(t tree[entry]) list {
	l := list{t: t, memo: &listMemo{}}
	l.memo.entries = sync.OnceValue(func() []entry {
		out := make([]entry, 0, t.Len())
		t.All(func(_ string, e entry) bool { out = append(out, e); return true })
		return out
	})
	return l
}

// entry is one tool, prompt or resource as the client sees it.
type entry struct {
	key      string // the exposed name, or the URI of a resource
	server   string
	original string          // the upstream's name (or URI)
	raw      json.RawMessage // the upstream's object, renamed where named
	// match is a template's parsed URI template; nil for other entries
	// and for a template that does not parse.
	match *uritemplate.Template
}

// get returns the entry with the given key.
func (l list) get(key string) (entry, bool) { return l.t.Get(key) }

// entries returns the list's entries in order. Do not modify them.
func (l list) entries() []entry {
	if l.memo == nil {
		return nil
	}
	return l.memo.entries()
}

// render returns the whole list as one page's result, {field: [...]},
// rendered once per list version.
func (l list) render(field string) json.RawMessage {
	if l.memo == nil {
		return listResult(field, nil, "")
	}
	if r, ok := l.memo.rendered.Load(field); ok {
		return r.(json.RawMessage)
	}
	r, _ := l.memo.rendered.LoadOrStore(field, listResult(field, l.entries(), ""))
	return r.(json.RawMessage)
}

// resourceOwner returns who serves uri: the upstream that lists it, else
// the first template (by template, then server) that matches it.
func (c *catalogue) resourceOwner(uri string) (entry, bool) {
	if e, ok := c.resources.get(uri); ok {
		return e, true
	}
	for _, e := range c.templates.entries() {
		if e.match != nil && e.match.Match(uri) != nil {
			return e, true
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

// upstream returns the catalogue of the named upstream, nil if none.
func (c *catalogue) upstream(name string) *registry.Catalogue {
	cat, _ := c.upstreams.Get(name)
	return cat
}

// source is one upstream's contribution to the merged catalogue, parsed
// once when its catalogue arrives, so that merging costs what it changes.
type source struct {
	server  string
	prefix  string
	cat     *registry.Catalogue
	caps    string // cat.ClientCapabilities, canonical
	tools   []*named
	prompts []*named
	// resources and templates keyed by URI, in the upstream's order, each
	// URI once.
	resources, templates []entry
	// names are the upstream's own names of all its tools and prompts,
	// those the tool filter hides too (see registry/pin.Scan's own).
	names []string
	// held are its tools and prompts that pinning withholds or warns of
	// (see judge).
	held []Withheld
	// unmatched are the overrides of entries the upstream does not list,
	// as fields ("toolOverrides.echoo"), each with the closest name it
	// lists ("" for none).
	unmatched [][2]string
	// searchText is the upstream's text for the search index, made when
	// first needed (see Server.serverText).
	searchText string
}

// named is one upstream tool or prompt, with the name it would have
// alone (steps 1–4 of [AssignNames]) and the name it is exposed under,
// with its object renamed. An override's name stands in the slot for the
// upstream's own, which requests are sent under.
type named struct {
	slot     *nameSlot
	upstream string          // the upstream's own name
	sent     json.RawMessage // the upstream's object as it sent it, which pins cover
	raw      json.RawMessage // the upstream's object, overridden
	exposed  string          // "" while not exposed
	renamed  json.RawMessage // raw with exposed as its name
}

func (n *named) server() string   { return n.slot.entry.Server }
func (n *named) original() string { return n.upstream }

// compareNamed orders claimants of one name: as AssignNames orders
// entries, then, for entries an override gave one name, by the
// upstream's own.
func compareNamed(a, b *named) int {
	return cmp.Or(compareEntries(a.slot.entry, b.slot.entry), strings.Compare(a.upstream, b.upstream))
}

// newSource parses an upstream's catalogue, keeping the tools that cfg's
// tool filter allows. Entries without a usable name or URI are left out and
// logged; a name or URI listed twice keeps the first.
func newSource(cfg *registry.Server, cat *registry.Catalogue, maxLen int, logger *slog.Logger) *source {
	server, prefix := cfg.Name, cfg.ExposedPrefix()
	tools := parseNamed(server, prefix, "tool", cat.Tools, cfg.ToolOverrides, maxLen, logger)
	prompts := parseNamed(server, prefix, "prompt", cat.Prompts, cfg.PromptOverrides, maxLen, logger)
	unmatched := slices.Concat(unmatchedOverrides("toolOverrides", cfg.ToolOverrides, tools), unmatchedOverrides("promptOverrides", cfg.PromptOverrides, prompts))
	names := make([]string, 0, len(tools)+len(prompts))
	for _, n := range slices.Concat(tools, prompts) {
		names = append(names, n.upstream)
	}
	tools = slices.DeleteFunc(tools, func(n *named) bool { return !cfg.ToolAllowed(n.original()) })
	src := &source{
		server:    server,
		prefix:    prefix,
		cat:       cat,
		caps:      canonical(cat.ClientCapabilities),
		tools:     tools,
		prompts:   prompts,
		unmatched: unmatched,
		names:     names,
		resources: parseURIs(server, "uri", cat.Resources, logger),
		templates: parseURIs(server, "uriTemplate", cat.ResourceTemplates, logger),
	}
	for i := range src.templates {
		src.templates[i].match, _ = uritemplate.New(src.templates[i].key)
	}
	return src
}

// parseNamed parses an upstream's tools or prompts, with their overrides
// (keyed by the upstream's names) applied.
func parseNamed(server, prefix, kind string, items []json.RawMessage, overrides map[string]registry.Override, maxLen int, logger *slog.Logger) []*named {
	var out []*named
	seen := map[string]bool{}
	for _, raw := range items {
		name, ok := jsonrpc.StringMember(raw, "name")
		if !ok || seen[name] {
			logger.Warn("upstream "+kind+" without a name or listed twice; left out", "upstream", server, kind, name)
			continue
		}
		seen[name] = true
		shown, sent := name, raw
		if o, ok := overrides[name]; ok {
			var err error
			if raw, err = override(raw, o); err != nil {
				logger.Warn("upstream "+kind+" is not a JSON object; left out", "upstream", server, kind, name)
				continue
			}
			shown = cmp.Or(o.Name, name)
		}
		out = append(out, &named{slot: proposeName(NameEntry{Server: server, Prefix: prefix, Original: shown}, maxLen), upstream: name, sent: sent, raw: raw})
	}
	return out
}

// unmatchedOverrides returns the keys of overrides (under field) that name
// none of entries, with the closest upstream name.
func unmatchedOverrides(field string, overrides map[string]registry.Override, entries []*named) [][2]string {
	var out [][2]string
	for _, key := range slices.Sorted(maps.Keys(overrides)) {
		if slices.ContainsFunc(entries, func(n *named) bool { return n.upstream == key }) {
			continue
		}
		names := make([]string, len(entries))
		for i, n := range entries {
			names[i] = n.upstream
		}
		out = append(out, [2]string{field + "." + key, registry.Closest(key, names, 3)})
	}
	return out
}

// override returns the object raw with the members o sets (see
// registry.Override) spliced in, every other byte unchanged. Its name is
// left to the merge, which renames every entry.
func override(raw json.RawMessage, o registry.Override) (json.RawMessage, error) {
	var err error
	set := func(key string, v []byte) {
		if err == nil {
			raw, err = jsonrpc.Set(raw, key, v)
		}
	}
	if o.Title != nil {
		set("title", jsonrpc.Quote(*o.Title))
	}
	if o.Description != nil {
		set("description", jsonrpc.Quote(*o.Description))
	}
	if len(o.Annotations) > 0 && err == nil {
		var ann json.RawMessage
		if ann, err = jsonrpc.Member(raw, "annotations"); err == nil {
			set("annotations", overrideMembers(ann, o.Annotations))
		}
	}
	return raw, err
}

// overrideMembers returns the object obj with the members of set set
// over its own, in the order of their keys; an obj that is not an object
// (or is absent) is replaced by set.
func overrideMembers(obj json.RawMessage, set map[string]json.RawMessage) json.RawMessage {
	keys := slices.Sorted(maps.Keys(set))
	if jsonrpc.Kind(obj) == "an object" {
		out := obj
		var err error
		for _, k := range keys {
			if out, err = jsonrpc.Set(out, k, set[k]); err != nil {
				break
			}
		}
		if err == nil {
			return out
		}
	}
	b := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(jsonrpc.AppendQuote(b, k), ':')
		b = append(b, set[k]...)
	}
	return append(b, '}')
}

func parseURIs(server, field string, items []json.RawMessage, logger *slog.Logger) []entry {
	var out []entry
	seen := map[string]bool{}
	for _, raw := range items {
		uri, ok := jsonrpc.StringMember(raw, field)
		switch {
		case !ok:
			logger.Warn("upstream resource without a "+field+"; left out", "upstream", server)
			continue
		case seen[uri]:
			continue
		}
		seen[uri] = true
		out = append(out, entry{key: uri, server: server, original: uri, raw: raw})
	}
	return out
}

// listResult renders a list result with the entries' raw objects.
func listResult(field string, page []entry, next string) json.RawMessage {
	size := len(field) + 32 + len(next)
	for _, e := range page {
		size += len(e.raw) + 1
	}
	b := bytes.NewBuffer(make([]byte, 0, size))
	b.WriteString(`{"` + field + `":[`)
	for i, e := range page {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e.raw)
	}
	b.WriteString("]")
	if next != "" {
		b.WriteString(`,"nextCursor":`)
		b.Write(jsonrpc.Quote(next))
	}
	b.WriteString("}")
	return b.Bytes()
}

// sameEntry reports whether two entries show the client the same thing,
// served by the same upstream.
func sameEntry(a, b entry) bool {
	return a.key == b.key && a.server == b.server && a.original == b.original && bytes.Equal(a.raw, b.raw)
}

// upstreamCatalogues returns every upstream's catalogue, by name.
func (c *catalogue) upstreamCatalogues() map[string]*registry.Catalogue {
	out := make(map[string]*registry.Catalogue, c.upstreams.Len())
	c.upstreams.All(func(name string, cat *registry.Catalogue) bool { out[name] = cat; return true })
	return out
}
