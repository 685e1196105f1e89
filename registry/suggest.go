package registry

import (
	"slices"
	"strings"
)

// Closest returns the one of names nearest to name, ignoring case, if it
// is at most maxEdits edits away (insertions, deletions, substitutions of
// one byte); "" if none is. Of two equally near, the first in sorted
// order wins. Names equal to name are not suggestions.
func Closest(name string, names []string, maxEdits int) string {
	best, bestD := "", maxEdits+1
	lower := strings.ToLower(name)
	for _, n := range slices.Sorted(slices.Values(names)) {
		if n == name {
			continue
		}
		if d := editDistance(lower, strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
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
