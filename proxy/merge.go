package proxy

import (
	"encoding/json"
	"log/slog"
	"slices"
	"sync"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/registry"
)

// merge keeps the merged catalogue up to date as upstreams' catalogues
// arrive. An arrival costs what it changes: O(k log n) for an upstream of
// k entries among n in all, however many upstreams there are, and the
// lists it leaves unchanged keep what their readers derived from them
// (see list). Its names are exactly those [AssignNames] gives the whole
// catalogue. Not safe for concurrent use: Server.mergeMu guards it.
type merge struct {
	m       merger
	maxLen  int // the name bound, defaulted
	sources map[string]*source

	tools, prompts       nameIndex
	resources, templates uriIndex
	upstreams            tree[*registry.Catalogue]
	cur                  *catalogue
}

// merger says how merge names entries and reports what it finds.
type merger struct {
	logger     *slog.Logger
	nameLength int                                          // see AssignNames
	conflict   func(uri, servedBy, ignored string)          // a URI two upstreams list; nil ignores
	renamed    func(kind, server, original, exposed string) // an entry not exposed as prefix__name; nil ignores
}

func newMerge(m merger) *merge {
	mg := &merge{
		m:         m,
		maxLen:    nameBound(m.nameLength),
		sources:   map[string]*source{},
		tools:     nameIndex{kind: "tool", claims: map[string][]*named{}, contested: map[string]bool{}},
		prompts:   nameIndex{kind: "prompt", claims: map[string][]*named{}, contested: map[string]bool{}},
		resources: uriIndex{claims: map[string][]entry{}},
		templates: uriIndex{claims: map[string][]entry{}},
	}
	mg.cur = mg.snapshot(nil, [4]bool{true, true, true, true})
	return mg
}

// The list_changed notifications of each kind of list.
const (
	toolsChanged     = "notifications/tools/list_changed"
	promptsChanged   = "notifications/prompts/list_changed"
	resourcesChanged = "notifications/resources/list_changed"
)

// apply replaces the source of the named upstream (nil removes it) and
// returns the new snapshot with the list_changed methods that the change
// calls for.
func (mg *merge) apply(name string, src *source) (*catalogue, []string) {
	old := mg.sources[name]
	var oldSrc, newSrc source
	if old != nil {
		oldSrc = *old
	}
	if src != nil {
		newSrc = *src
		mg.sources[name] = src
		mg.upstreams = mg.upstreams.Set(name, src.cat)
	} else {
		delete(mg.sources, name)
		mg.upstreams = mg.upstreams.Delete(name)
	}
	changed := [4]bool{
		mg.tools.update(oldSrc.tools, newSrc.tools, mg),
		mg.prompts.update(oldSrc.prompts, newSrc.prompts, mg),
		mg.resources.update(oldSrc.resources, newSrc.resources, mg.m.conflict),
		mg.templates.update(oldSrc.templates, newSrc.templates, mg.m.conflict),
	}
	mg.cur = mg.snapshot(mg.cur, changed)
	var methods []string
	if changed[0] {
		methods = append(methods, toolsChanged)
	}
	if changed[1] {
		methods = append(methods, promptsChanged)
	}
	if changed[2] || changed[3] {
		methods = append(methods, resourcesChanged)
	}
	return mg.cur, methods
}

// snapshot returns the catalogue as it is now, keeping the lists of prev
// that did not change.
func (mg *merge) snapshot(prev *catalogue, changed [4]bool) *catalogue {
	c := &catalogue{upstreams: mg.upstreams}
	pick := func(i int, t tree[entry], old func(*catalogue) list) list {
		if prev == nil || changed[i] {
			return newList(t)
		}
		return old(prev)
	}
	c.tools = pick(0, mg.tools.list, func(c *catalogue) list { return c.tools })
	c.prompts = pick(1, mg.prompts.list, func(c *catalogue) list { return c.prompts })
	c.resources = pick(2, mg.resources.list, func(c *catalogue) list { return c.resources })
	c.templates = pick(3, mg.templates.list, func(c *catalogue) list { return c.templates })
	if prev != nil && !changed[2] {
		c.withStatus = prev.withStatus
	} else {
		resources := c.resources.t
		c.withStatus = sync.OnceValue(func() list { return newList(resources.Set(statusURI, statusEntry)) })
	}
	return c
}

// statusEntry is mcpmux's own resource, mcpmux://status.
var statusEntry = entry{key: statusURI, original: statusURI, raw: json.RawMessage(`{"uri":"mcpmux://status","name":"mcpmux-status","title":"mcpmux upstream status","description":"The live state of every upstream MCP server behind mcpmux: state, since when, last error, restarts, next retry.","mimeType":"application/json"}`)}

// nameIndex names the tools (or the prompts) of every upstream. Each
// entry claims the name it would have alone; the first claimant of a name
// in collision order keeps it, and the others (the losers) are renamed
// in that order, as AssignNames does: since losers are rare, they are
// renamed anew on every arrival, and the rest costs what the arrival
// changes.
type nameIndex struct {
	kind      string
	list      tree[entry]
	claims    map[string][]*named // proposed name → its claimants, in collision order
	contested map[string]bool     // proposed names with more than one claimant
	losers    []*named            // the claimants renamed at the last update
	touched   []string            // the keys the last update may have changed
}

// update replaces the entries old of one upstream with new, and reports
// whether the list changed.
func (x *nameIndex) update(old, new []*named, mg *merge) bool {
	x.touched = x.touched[:0]
	if len(old) == 0 && len(new) == 0 {
		return false
	}
	touched := map[string]bool{}
	for _, n := range old {
		x.unclaim(n)
		touched[n.slot.name] = true
	}
	for _, n := range new {
		x.claim(n)
		touched[n.slot.name] = true
	}
	target := map[*named]string{}
	review := slices.Concat(old, new, x.losers)
	for name := range touched {
		if g := x.claims[name]; len(g) > 0 {
			target[g[0]] = name
			review = append(review, g[0])
		}
	}
	x.losers = x.renameLosers(target, mg.maxLen)
	review = append(review, x.losers...)

	before := map[string]*entry{} // what each key changed held before
	remember := func(key string) {
		if _, ok := before[key]; !ok {
			if e, ok := x.list.Get(key); ok {
				before[key] = &e
			} else {
				before[key] = nil
			}
		}
	}
	for _, n := range review {
		if n.exposed == "" || n.exposed == target[n] {
			continue
		}
		if e, ok := x.list.Get(n.exposed); ok && e.server == n.server() && e.original == n.original() {
			remember(n.exposed)
			x.list = x.list.Delete(n.exposed)
		}
		n.exposed, n.renamed = "", nil
	}
	for _, n := range review {
		name := target[n]
		if name == "" || n.exposed == name {
			continue
		}
		raw, err := jsonrpc.Set(n.raw, "name", jsonrpc.Quote(name))
		if err != nil {
			mg.m.logger.Warn("upstream entry is not a JSON object; left out", "upstream", n.server(), "name", n.original())
			continue
		}
		remember(name)
		n.exposed, n.renamed = name, raw
		x.list = x.list.Set(name, entry{key: name, server: n.server(), original: n.original(), raw: raw})
		if name != plainName(n.slot.entry) && mg.m.renamed != nil {
			mg.m.renamed(x.kind, n.server(), n.original(), name)
		}
	}
	for key := range before {
		x.touched = append(x.touched, key)
	}
	for key, was := range before {
		now, ok := x.list.Get(key)
		if (was == nil) != !ok || ok && !sameEntry(*was, now) {
			return true
		}
	}
	return false
}

// claim adds n to the claimants of its name, in collision order.
func (x *nameIndex) claim(n *named) {
	g := x.claims[n.slot.name]
	i, _ := slices.BinarySearchFunc(g, n, compareNamed)
	g = slices.Insert(g, i, n)
	x.claims[n.slot.name] = g
	if len(g) > 1 {
		x.contested[n.slot.name] = true
	}
}

// unclaim removes n from the claimants of its name.
func (x *nameIndex) unclaim(n *named) {
	name := n.slot.name
	g := slices.DeleteFunc(x.claims[name], func(o *named) bool { return o == n })
	switch len(g) {
	case 0:
		delete(x.claims, name)
	case 1:
		delete(x.contested, name)
		fallthrough
	default:
		x.claims[name] = g
	}
}

// renameLosers gives every claimant but the first of each contested name
// its name (step 5 of AssignNames), in collision order, into target, and
// returns them.
func (x *nameIndex) renameLosers(target map[*named]string, maxLen int) []*named {
	var losers []*named
	for name := range x.contested {
		losers = append(losers, x.claims[name][1:]...)
	}
	if len(losers) == 0 {
		return nil
	}
	slices.SortFunc(losers, compareNamed)
	assigned := map[string]bool{}
	taken := func(name string) bool { return len(x.claims[name]) > 0 || assigned[name] }
	for _, n := range losers {
		name := n.slot.renameFunc(taken, maxLen)
		assigned[name] = true
		target[n] = name
	}
	return losers
}

// uriIndex merges the resources (or the templates) of every upstream by
// URI: the first upstream by name that lists a URI serves it.
type uriIndex struct {
	list   tree[entry]
	claims map[string][]entry // URI → the entries of every upstream that lists it, by server
}

// update replaces the entries old of one upstream with new, and reports
// whether the list changed. Two upstreams listing one URI are reported to
// conflict.
func (x *uriIndex) update(old, new []entry, conflict func(uri, servedBy, ignored string)) bool {
	touched := map[string]bool{}
	for _, e := range old {
		g := slices.DeleteFunc(x.claims[e.key], func(o entry) bool { return o.server == e.server })
		if len(g) == 0 {
			delete(x.claims, e.key)
		} else {
			x.claims[e.key] = g
		}
		touched[e.key] = true
	}
	for _, e := range new {
		g := x.claims[e.key]
		i, _ := slices.BinarySearchFunc(g, e, func(a, b entry) int { return cmpString(a.server, b.server) })
		x.claims[e.key] = slices.Insert(g, i, e)
		touched[e.key] = true
	}
	changed := false
	for uri := range touched {
		g := x.claims[uri]
		was, had := x.list.Get(uri)
		switch {
		case len(g) == 0:
			x.list = x.list.Delete(uri)
			changed = changed || had
			continue
		case !had || !sameEntry(was, g[0]):
			x.list = x.list.Set(uri, g[0])
			changed = true
		}
		for _, o := range g[1:] {
			if conflict != nil {
				conflict(uri, g[0].server, o.server)
			}
		}
	}
	return changed
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// plainName is the name e would have if it needed no change: its prefix
// and its own name.
func plainName(e NameEntry) string {
	if e.Prefix == "" {
		return e.Original
	}
	return e.Prefix + nameSep + e.Original
}
