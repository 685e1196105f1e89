package proxy

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/registry"
)

func TestTree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var tr tree[int]
	want := map[string]int{}
	versions := []tree[int]{}
	wants := []map[string]int{}
	for i := range 5000 {
		key := fmt.Sprint(rng.IntN(300))
		if rng.IntN(3) == 0 {
			tr = tr.Delete(key)
			delete(want, key)
		} else {
			tr = tr.Set(key, i)
			want[key] = i
		}
		if i%500 == 0 {
			versions, wants = append(versions, tr), append(wants, maps.Clone(want))
		}
	}
	versions, wants = append(versions, tr), append(wants, want)
	for v, tr := range versions {
		checkTree(t, tr, wants[v])
	}
	// After: the keys after a bound, in order.
	keys := slices.Sorted(maps.Keys(want))
	var after []string
	tr.After(keys[10], func(k string, _ int) bool { after = append(after, k); return len(after) < 5 })
	if !slices.Equal(after, keys[11:16]) {
		t.Errorf("After(%q) = %q, want %q", keys[10], after, keys[11:16])
	}
}

// checkTree checks that tr holds exactly want, in order, as a treap.
func checkTree(t *testing.T, tr tree[int], want map[string]int) {
	t.Helper()
	var keys []string
	tr.All(func(k string, v int) bool {
		if want[k] != v {
			t.Errorf("tree has %q = %d, want %d", k, v, want[k])
		}
		keys = append(keys, k)
		return true
	})
	if !slices.Equal(keys, slices.Sorted(maps.Keys(want))) || tr.Len() != len(want) {
		t.Fatalf("tree keys = %q (Len %d), want %d sorted keys", keys, tr.Len(), len(want))
	}
	var walk func(n *node[int]) int
	walk = func(n *node[int]) int {
		if n == nil {
			return 0
		}
		for _, c := range []*node[int]{n.left, n.right} {
			if c != nil && c.prio > n.prio {
				t.Fatalf("heap order broken under %q", n.key)
			}
		}
		size := 1 + walk(n.left) + walk(n.right)
		if size != n.size {
			t.Fatalf("size of %q = %d, want %d", n.key, n.size, size)
		}
		return size
	}
	walk(tr.root)
}

// TestMergeMatchesAssignNames replaces, adds and removes random upstream
// catalogues one at a time and checks that the incremental merge always
// holds what merging everything at once gives: the names of AssignNames,
// the first upstream by name serving each URI, and a change reported
// exactly when a list changed.
func TestMergeMatchesAssignNames(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	servers := []*registry.Server{}
	for i := range 6 {
		s := &registry.Server{Name: fmt.Sprintf("s%d", i), Command: "x"}
		switch i {
		case 0, 1:
			p := "" // unprefixed servers collide with each other
			s.Prefix = &p
		case 2, 3:
			p := "same" // and so do servers that share a prefix
			s.Prefix = &p
		}
		servers = append(servers, s)
	}
	for _, maxLen := range []int{16, 48} {
		mg := newMerge(merger{logger: slog.New(slog.DiscardHandler), nameLength: maxLen})
		current := map[string]*registry.Catalogue{}
		prev := mg.cur
		for step := range 400 {
			srv := servers[rng.IntN(len(servers))]
			var src *source
			if rng.IntN(5) == 0 {
				delete(current, srv.Name)
			} else {
				c := randomCatalogue(rng)
				current[srv.Name] = c
				src = newSource(srv, c, mg.maxLen, slog.New(slog.DiscardHandler))
			}
			cat, methods := mg.apply(srv.Name, src)
			want := mergeAtOnce(servers, current, mg.maxLen)
			for _, k := range []struct {
				name       string
				got, was   list
				want       map[string]entry
				changeNote string
			}{
				{"tools", cat.tools, prev.tools, want.tools, toolsChanged},
				{"prompts", cat.prompts, prev.prompts, want.prompts, promptsChanged},
				{"resources", cat.resources, prev.resources, want.resources, resourcesChanged},
				{"templates", cat.templates, prev.templates, want.templates, resourcesChanged},
			} {
				got := map[string]entry{}
				for _, e := range k.got.entries() {
					got[e.key] = e
				}
				if !sameEntries(got, k.want) {
					t.Fatalf("maxLen %d, step %d (%s): %s = %s\nwant %s", maxLen, step, srv.Name, k.name, describe(got), describe(k.want))
				}
				if differ := !sameEntries(got, entriesOf(k.was)); differ && !slices.Contains(methods, k.changeNote) {
					t.Fatalf("step %d: %s changed, but apply reported only %q", step, k.name, methods)
				}
			}
			for _, m := range methods {
				if m == toolsChanged && sameEntries(entriesOf(cat.tools), entriesOf(prev.tools)) ||
					m == promptsChanged && sameEntries(entriesOf(cat.prompts), entriesOf(prev.prompts)) ||
					m == resourcesChanged && sameEntries(entriesOf(cat.resources), entriesOf(prev.resources)) && sameEntries(entriesOf(cat.templates), entriesOf(prev.templates)) {
					t.Fatalf("step %d: apply reported %s, but nothing changed", step, m)
				}
			}
			prev = cat
		}
	}
}

func entriesOf(l list) map[string]entry {
	out := map[string]entry{}
	for _, e := range l.entries() {
		out[e.key] = e
	}
	return out
}

func sameEntries(a, b map[string]entry) bool {
	return maps.EqualFunc(a, b, sameEntry)
}

func describe(m map[string]entry) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, fmt.Sprintf("%s=%s/%s", k, m[k].server, m[k].original))
	}
	return strings.Join(out, " ")
}

// merged is what merging every catalogue at once gives.
type merged struct{ tools, prompts, resources, templates map[string]entry }

func mergeAtOnce(servers []*registry.Server, cats map[string]*registry.Catalogue, maxLen int) merged {
	out := merged{map[string]entry{}, map[string]entry{}, map[string]entry{}, map[string]entry{}}
	named := func(into map[string]entry, items func(*registry.Catalogue) []json.RawMessage) {
		var names []NameEntry
		var raws []json.RawMessage
		for _, s := range servers {
			c := cats[s.Name]
			if c == nil {
				continue
			}
			seen := map[string]bool{}
			for _, raw := range items(c) {
				name, _ := jsonrpc.StringMember(raw, "name")
				if seen[name] {
					continue
				}
				seen[name] = true
				names = append(names, NameEntry{Server: s.Name, Prefix: s.ExposedPrefix(), Original: name})
				raws = append(raws, raw)
			}
		}
		for i, exposed := range AssignNames(names, maxLen) {
			raw, _ := jsonrpc.Set(raws[i], "name", jsonrpc.Quote(exposed))
			into[exposed] = entry{key: exposed, server: names[i].Server, original: names[i].Original, raw: raw}
		}
	}
	named(out.tools, func(c *registry.Catalogue) []json.RawMessage { return c.Tools })
	named(out.prompts, func(c *registry.Catalogue) []json.RawMessage { return c.Prompts })
	uris := func(into map[string]entry, field string, items func(*registry.Catalogue) []json.RawMessage) {
		names := slices.Sorted(maps.Keys(cats))
		sort.Strings(names)
		for _, server := range names {
			for _, raw := range items(cats[server]) {
				uri, _ := jsonrpc.StringMember(raw, field)
				if _, taken := into[uri]; !taken {
					into[uri] = entry{key: uri, server: server, original: uri, raw: raw}
				}
			}
		}
	}
	uris(out.resources, "uri", func(c *registry.Catalogue) []json.RawMessage { return c.Resources })
	uris(out.templates, "uriTemplate", func(c *registry.Catalogue) []json.RawMessage { return c.ResourceTemplates })
	return out
}

// randomCatalogue returns a catalogue of names drawn from a small set, so
// that upstreams collide, some of them with characters that force a
// hashed name or long enough to be shortened.
func randomCatalogue(rng *rand.Rand) *registry.Catalogue {
	pool := []string{"echo", "add", "get", "a.b", "a_b", "x y", "", "long_name_that_needs_shortening_at_sixteen", "ü", "a__b", "same__echo", "echo_1234abcd"}
	c := &registry.Catalogue{}
	for range rng.IntN(6) {
		name := pool[rng.IntN(len(pool))]
		c.Tools = append(c.Tools, json.RawMessage(fmt.Sprintf(`{"name":%s,"v":%d}`, jsonrpc.Quote(name), rng.IntN(3))))
	}
	for range rng.IntN(3) {
		c.Prompts = append(c.Prompts, json.RawMessage(fmt.Sprintf(`{"name":%s}`, jsonrpc.Quote(pool[rng.IntN(4)]))))
	}
	for range rng.IntN(3) {
		c.Resources = append(c.Resources, json.RawMessage(fmt.Sprintf(`{"uri":"test://r%d","v":%d}`, rng.IntN(4), rng.IntN(2))))
	}
	for range rng.IntN(2) {
		c.ResourceTemplates = append(c.ResourceTemplates, json.RawMessage(fmt.Sprintf(`{"uriTemplate":"test://t/{x}%d"}`, rng.IntN(2))))
	}
	return c
}
