package proxy

import (
	"sort"
	"strings"
)

// maxSuggestions bounds the names an "unknown tool" error suggests.
const maxSuggestions = 3

// closest returns the keys of l nearest to name, nearest first: those that
// end with "__" + name (the client left out the prefix), then those within
// a small edit distance (a typo, another prefix).
func closest(l list, name string) []string {
	type near struct {
		key  string
		dist int
	}
	limit := max(2, len(name)/4)
	var found []near
	for _, e := range l.entries() {
		switch d := editDistance(name, e.key); {
		case strings.HasSuffix(e.key, nameSep+name) || e.original == name:
			found = append(found, near{e.key, 0})
		case d <= limit:
			found = append(found, near{e.key, d})
		}
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].dist != found[j].dist {
			return found[i].dist < found[j].dist
		}
		return found[i].key < found[j].key
	})
	var out []string
	for _, n := range found[:min(len(found), maxSuggestions)] {
		out = append(out, n.key)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
