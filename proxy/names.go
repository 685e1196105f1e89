package proxy

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

const (
	maxNameLen = 64   // the longest name MCP clients accept
	nameSep    = "__" // between the prefix and the original name
	hashLen    = 8    // hex digits of the hash in a hashed name

	// DefaultNameLength is the bound of exposed names when none is given.
	// Hosts add a prefix of their own (Claude Code: "mcp__<entry>__"),
	// and the Anthropic API refuses tool names over 64 characters.
	DefaultNameLength = 48
	// minPrefixKeep is how much of a prefix a shortened name keeps at
	// least, when the name's bound leaves room for it.
	minPrefixKeep = 8
)

// NameEntry is one upstream name to expose.
type NameEntry struct {
	Server   string // the server's config key
	Prefix   string // the server's exposed prefix ("" = none)
	Original string // the upstream's own name, any string
}

// AssignNames returns the exposed name of every entry, in the same order,
// each at most maxLen bytes long (0 means [DefaultNameLength]; more than 64
// means 64). It is deterministic: the same set of entries in any order gets
// the same names.
//
// Every name is valid (see [ValidName]) and distinct entries get distinct names.
// A name depends only on its own entry and maxLen, except in the collision case
// of step 5, so a reconnect that adds a tool does not rename another. The
// algorithm, with L = maxLen:
//
//  1. clean(s) replaces each rune not in [A-Za-z0-9_-] with '_' (one '_' per
//     rune; each byte of invalid UTF-8 also becomes '_').
//  2. base = clean(Prefix) + "__" + clean(Original), or clean(Original) if
//     Prefix is "". If Original is empty, "_" is used for the clean part.
//  3. A name is exact if no character had to change (an empty Original counts
//     as a change) and len(base) <= L. Exact names are used as they are.
//  4. Otherwise (something was replaced, or it is too long) the name is hashed:
//     h = the first 8 hex digits of sha256(Server + "\x00" + Original), and
//     the name is the base shortened to L - 9 bytes, then "_" + h. Shortening
//     keeps the start of both parts: the tool part keeps what the prefix
//     leaves of the room, and the prefix keeps at least half of it (less
//     only if the tool part is shorter), so "go-everything__greet" plus a
//     long tool name stays recognisable. The hash makes the name depend only
//     on the entry itself.
//  5. Collisions: if several distinct entries share a name after steps 1–4,
//     they are sorted by (Server, Original) bytewise, then by Prefix; the first
//     keeps the name and every other one gets the hashed name of step 4, even if
//     its name was exact. If that hashed name is taken too, the hash of that
//     entry is lengthened to 16 hex digits (the base shortened to L - 17 bytes),
//     then to all 64 (the name is the hash alone, cut to L); as a last resort
//     a counter is appended to the 8-digit form ("_2", "_3", ...).
//
// Equal entries, such as an upstream listing one tool twice, get the same name
// every time, because they are the same tool; callers should de-duplicate them
// before exposing a catalogue. The returned slice is the only map back from an
// exposed name to its entry: keep it alongside the entries.
func AssignNames(entries []NameEntry, maxLen int) []string {
	maxLen = nameBound(maxLen)
	slots := distinctSorted(entries, maxLen)
	resolve(slots, maxLen)

	byEntry := make(map[NameEntry]string, len(slots))
	for _, s := range slots {
		byEntry[s.entry] = s.name
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = byEntry[e]
	}
	return names
}

// ValidName reports whether s is a valid exposed name, that is whether it
// matches ^[a-zA-Z0-9_-]{1,64}$. (Names are also at most the bound given to
// [AssignNames].)
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameChar(rune(s[i])) {
			return false
		}
	}
	return true
}

// nameSlot is one distinct entry while its name is being assigned.
type nameSlot struct {
	entry        NameEntry
	prefix, tool string // the clean parts of step 2; prefix "" for none
	name         string // the proposed name, then the assigned one
	sum          string // hex sha256 of the entry, computed on first use
}

// distinctSorted returns one slot per distinct entry, in collision order
// (step 5), each holding its proposed name (steps 1–4).
func distinctSorted(entries []NameEntry, maxLen int) []*nameSlot {
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, compareEntries)
	sorted = slices.Compact(sorted)

	slots := make([]*nameSlot, len(sorted))
	for i, e := range sorted {
		slots[i] = proposeName(e, maxLen)
	}
	return slots
}

// proposeName returns the slot of e holding the name it gets unless it
// collides (steps 1–4). maxLen is the bound, already defaulted.
func proposeName(e NameEntry, maxLen int) *nameSlot {
	s := &nameSlot{entry: e}
	var exact bool
	s.prefix, s.tool, exact = baseName(e)
	if base := s.base(); exact && len(base) <= maxLen {
		s.name = base
	} else {
		s.name = s.hashedName(s.hash()[:hashLen], maxLen)
	}
	return s
}

// nameBound returns the bound of names that maxLen means (see
// AssignNames).
func nameBound(maxLen int) int {
	if maxLen <= 0 {
		maxLen = DefaultNameLength
	}
	return min(maxLen, maxNameLen)
}

func compareEntries(a, b NameEntry) int {
	return cmp.Or(
		strings.Compare(a.Server, b.Server),
		strings.Compare(a.Original, b.Original),
		strings.Compare(a.Prefix, b.Prefix),
	)
}

// resolve makes the names of slots unique (step 5). Slots must be in collision
// order: the first slot to claim a name keeps it.
func resolve(slots []*nameSlot, maxLen int) {
	taken := make(map[string]bool, len(slots))
	var losers []*nameSlot
	for _, s := range slots {
		if taken[s.name] {
			losers = append(losers, s)
			continue
		}
		taken[s.name] = true
	}
	for _, s := range losers {
		s.name = s.rename(taken, maxLen)
		taken[s.name] = true
	}
}

// rename returns the first hashed name of s that is not taken.
func (s *nameSlot) rename(taken map[string]bool, maxLen int) string {
	return s.renameFunc(func(name string) bool { return taken[name] }, maxLen)
}

// renameFunc is rename with taken as a function.
func (s *nameSlot) renameFunc(taken func(string) bool, maxLen int) string {
	sum := s.hash()
	for _, n := range []int{hashLen, 2 * hashLen, len(sum)} {
		if name := s.hashedName(sum[:n], maxLen); !taken(name) {
			return name
		}
	}
	for i := 2; ; i++ {
		if name := s.hashedName(sum[:hashLen]+"_"+strconv.Itoa(i), maxLen); !taken(name) {
			return name
		}
	}
}

// hash returns the hex sha256 of the slot's server and original name.
func (s *nameSlot) hash() string {
	if s.sum == "" {
		sum := sha256.Sum256([]byte(s.entry.Server + "\x00" + s.entry.Original))
		s.sum = hex.EncodeToString(sum[:])
	}
	return s.sum
}

// baseName returns the clean parts of e (step 2) and whether no character
// had to change (step 3).
func baseName(e NameEntry) (prefix, tool string, exact bool) {
	tool, toolOK := clean(e.Original)
	if e.Original == "" {
		tool, toolOK = "_", false
	}
	prefix, prefixOK := clean(e.Prefix)
	return prefix, tool, prefixOK && toolOK
}

// base returns the name of step 2.
func (s *nameSlot) base() string {
	if s.prefix == "" {
		return s.tool
	}
	return s.prefix + nameSep + s.tool
}

// hashedName returns the slot's base, shortened as step 4 says so that it
// fits in maxLen with "_" + suffix, then "_" + suffix. A suffix that leaves
// no room stands alone, cut to maxLen.
func (s *nameSlot) hashedName(suffix string, maxLen int) string {
	room := maxLen - 1 - len(suffix)
	switch base := s.base(); {
	case room <= 0:
		return suffix[:min(len(suffix), maxLen)]
	case len(base) <= room:
		return base + "_" + suffix
	case s.prefix == "" || room <= len(nameSep):
		return base[:room] + "_" + suffix
	}
	room -= len(nameSep)
	keepPrefix := min(len(s.prefix), max(room/2, room-len(s.tool)))
	keepTool := min(len(s.tool), room-keepPrefix)
	return s.prefix[:keepPrefix] + nameSep + s.tool[:keepTool] + "_" + suffix
}

// clean replaces each rune of s not in [A-Za-z0-9_-], and each byte of invalid
// UTF-8, with '_'. It reports whether s was already clean.
func clean(s string) (string, bool) {
	if strings.IndexFunc(s, func(r rune) bool { return !isNameChar(r) }) < 0 {
		return s, true
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s { // an invalid byte is one utf8.RuneError of width 1
		if isNameChar(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String(), false
}

func isNameChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-'
}
