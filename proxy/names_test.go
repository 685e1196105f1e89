package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// hashOf returns the first n hex digits of the hash of an entry (step 4).
func hashOf(server, original string, n int) string {
	sum := sha256.Sum256([]byte(server + "\x00" + original))
	return hex.EncodeToString(sum[:])[:n]
}

// hashed returns the hashed name of step 4 for base.
func hashed(base, server, original string) string {
	return base[:min(len(base), 55)] + "_" + hashOf(server, original, 8)
}

func TestAssignNamesSingle(t *testing.T) {
	long := strings.Repeat("x", 100)
	at64 := strings.Repeat("a", 64-len("p__")) // "p__" + at64 is 64 bytes
	at65 := at64 + "b"
	tests := []struct {
		name  string
		entry NameEntry
		want  string
	}{
		{"plain", NameEntry{"github", "github", "create_issue"}, "github__create_issue"},
		{"no prefix", NameEntry{"github", "", "create_issue"}, "create_issue"},
		{"hyphens", NameEntry{"my-srv", "my-srv", "list-repos"}, "my-srv__list-repos"},
		{"digits and case", NameEntry{"s", "S3", "PutObject2"}, "S3__PutObject2"},
		{"space", NameEntry{"github", "gh", "create issue"}, hashed("gh__create_issue", "github", "create issue")},
		{"parentheses", NameEntry{"calc", "calc", "sum(a,b)"}, hashed("calc__sum_a_b_", "calc", "sum(a,b)")},
		{"dots", NameEntry{"fs", "fs", "files.read"}, hashed("fs__files_read", "fs", "files.read")},
		{"slashes", NameEntry{"gh", "gh", "repos/list"}, hashed("gh__repos_list", "gh", "repos/list")},
		{"non-ASCII", NameEntry{"cafe", "", "café"}, hashed("caf_", "cafe", "café")},
		{"emoji", NameEntry{"emoji", "e", "🚀 launch"}, hashed("e____launch", "emoji", "🚀 launch")},
		{"invalid UTF-8", NameEntry{"bin", "", "a\xff\xfeb"}, hashed("a__b", "bin", "a\xff\xfeb")},
		{"empty name", NameEntry{"misc", "m", ""}, hashed("m___", "misc", "")},
		{"empty name and prefix", NameEntry{"misc", "", ""}, hashed("_", "misc", "")},
		{"prefix changed", NameEntry{"srv", "my srv", "tool"}, hashed("my_srv__tool", "srv", "tool")},
		{"100 chars", NameEntry{"srv", "srv", long}, hashed("srv__"+long, "srv", long)},
		{"64 chars", NameEntry{"p", "p", at64}, "p__" + at64},
		{"65 chars", NameEntry{"p", "p", at65}, hashed("p__"+at65, "p", at65)},
		{"64 chars no prefix", NameEntry{"p", "", strings.Repeat("z", 64)}, strings.Repeat("z", 64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AssignNames([]NameEntry{tt.entry}, 64)
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("AssignNames(%+q) = %q, want [%q]", tt.entry, got, tt.want)
			}
			if !ValidName(got[0]) {
				t.Errorf("ValidName(%q) = false, want true", got[0])
			}
		})
	}
}

// TestAssignNamesGolden pins hashed names, so that any change of the
// algorithm, which would rename users' tools, is caught.
func TestAssignNamesGolden(t *testing.T) {
	tests := []struct {
		name  string
		entry NameEntry
		want  string
	}{
		{"space", NameEntry{"github", "gh", "create issue"}, "gh__create_issue_32639782"},
		{"dots", NameEntry{"fs", "fs", "files.read"}, "fs__files_read_54b4a7da"},
		{"emoji", NameEntry{"emoji", "e", "🚀 launch"}, "e____launch_8406ddf9"},
		{"empty", NameEntry{"misc", "m", ""}, "m____af6e5599"},
		{"100 chars", NameEntry{"srv", "srv", strings.Repeat("x", 100)},
			"srv__xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx_d7bbf552"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AssignNames([]NameEntry{tt.entry}, 64); got[0] != tt.want {
				t.Errorf("AssignNames(%+q) = %q, want [%q]", tt.entry, got, tt.want)
			}
		})
	}
}

// TestAssignNamesShortened pins names shortened to fit a bound below 64:
// the start of the prefix and of the tool name, then the hash.
func TestAssignNamesShortened(t *testing.T) {
	tests := []struct {
		entry  NameEntry
		maxLen int
		want   string
	}{
		{NameEntry{"github", "github", "create_issue"}, 48, "github__create_issue"},
		{NameEntry{"everything", "everything", "trigger-long-running-operation"}, 48, "everything__trigger-long-running-operation"},
		{NameEntry{"everything", "everything", "trigger-long-running-operation"}, 40, "everything__trigger-long-runnin_39dfed1f"},
		{NameEntry{"go-everything", "go-everything", "greet: content with ResourceLink"}, 48, "go-everything__greet__content_with_Reso_1a504e73"},
		{NameEntry{"a-very-long-server-name-for-testing", "a-very-long-server-name-for-testing", "create_pull_request_review_comment"}, 48,
			"a-very-long-server__create_pull_request_787b6ab4"},
		{NameEntry{"srv", "", "a_tool_name_without_any_prefix_that_goes_on_and_on"}, 48, "a_tool_name_without_any_prefix_that_goe_c6900cea"},
		{NameEntry{"github", "github", "create_issue"}, 16, "gi__cre_5b9912e6"},
		{NameEntry{"github", "github", "create_issue"}, 0, "github__create_issue"},
	}
	for _, tt := range tests {
		got := AssignNames([]NameEntry{tt.entry}, tt.maxLen)[0]
		if got != tt.want {
			t.Errorf("AssignNames(%+q, %d) = %q, want %q", tt.entry, tt.maxLen, got, tt.want)
		}
		if len(got) > max(tt.maxLen, 1) && tt.maxLen != 0 || len(got) > DefaultNameLength {
			t.Errorf("AssignNames(%+q, %d) = %q: %d bytes, over the bound", tt.entry, tt.maxLen, got, len(got))
		}
	}
}

func TestAssignNamesCollisions(t *testing.T) {
	weather := "get_weather_" + hashOf("weather", "get weather", 8) // the hashed name of "get weather"
	tests := []struct {
		name    string
		entries []NameEntry
		want    []string
	}{
		{
			name:    "space and underscore",
			entries: []NameEntry{{"weather", "", "get weather"}, {"weather", "", "get_weather"}},
			want:    []string{weather, "get_weather"},
		},
		{
			name:    "same name on two unprefixed servers",
			entries: []NameEntry{{"beta", "", "search"}, {"alpha", "", "search"}},
			want:    []string{"search_86e1af85", "search"},
		},
		{
			name:    "exact name equals a hashed name, hashed sorts first",
			entries: []NameEntry{{"x", "", weather}, {"weather", "", "get weather"}},
			want:    []string{hashed(weather, "x", weather), weather},
		},
		{
			name:    "exact name equals a hashed name, exact sorts first",
			entries: []NameEntry{{"aaa", "", weather}, {"weather", "", "get weather"}},
			want:    []string{weather, "get_weather_" + hashOf("weather", "get weather", 16)},
		},
		{
			name:    "prefix and name split differently",
			entries: []NameEntry{{"ab", "a__b", "c"}, {"a", "a", "b__c"}},
			want:    []string{hashed("a__b__c", "ab", "c"), "a__b__c"},
		},
		{
			name:    "same tool listed twice",
			entries: []NameEntry{{"s", "s", "t"}, {"s", "s", "t"}, {"s", "s", "t t"}, {"s", "s", "t t"}},
			want:    []string{"s__t", "s__t", hashed("s__t_t", "s", "t t"), hashed("s__t_t", "s", "t t")},
		},
		{
			name: "same original under two prefixes that clean alike",
			entries: []NameEntry{
				{"s", "p q", "t"}, {"s", "p.q", "t"}, {"s", "p:q", "t"},
			},
			want: []string{
				hashed("p_q__t", "s", "t"),
				"p_q__t_" + hashOf("s", "t", 16),
				hashOf("s", "t", 64),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AssignNames(tt.entries, 64); !slices.Equal(got, tt.want) {
				t.Errorf("AssignNames(%+q) = %q, want %q", tt.entries, got, tt.want)
			}
			rev, wantRev := slices.Clone(tt.entries), slices.Clone(tt.want)
			slices.Reverse(rev)
			slices.Reverse(wantRev)
			if got := AssignNames(rev, 64); !slices.Equal(got, wantRev) {
				t.Errorf("AssignNames(%+q) = %q, want %q", rev, got, wantRev)
			}
		})
	}
}

func TestAssignNamesCounter(t *testing.T) {
	// Four prefixes that clean alike exhaust the three hash lengths of one
	// (Server, Original), so the last entry falls back to the counter.
	entries := []NameEntry{{"s", "p q", "t"}, {"s", "p.q", "t"}, {"s", "p:q", "t"}, {"s", "p;q", "t"}}
	got := AssignNames(entries, 64)
	want := "p_q__t_" + hashOf("s", "t", 8) + "_2" // "p;q" sorts last
	if got[3] != want {
		t.Errorf("AssignNames(%+q)[3] = %q, want %q", entries, got[3], want)
	}
	checkUnique(t, entries, got)
}

func TestAssignNamesStable(t *testing.T) {
	catalogue := []NameEntry{
		{"github", "github", "create_issue"},
		{"github", "github", "list issues"},
		{"fs", "", "read_file"},
		{"fs", "", "write.file"},
		{"db", "db", strings.Repeat("query", 20)},
	}
	before := AssignNames(catalogue, 64)
	for i, e := range catalogue {
		if alone := AssignNames([]NameEntry{e}, 64); alone[0] != before[i] {
			t.Errorf("AssignNames(%+q) = %q, want %q (its name in the catalogue)", e, alone, before[i])
		}
	}

	rng := rand.New(rand.NewPCG(1, 2))
	grown := slices.Clone(catalogue)
	for i := range 200 {
		prefix := []string{"extra", "other server", "x-y"}[i%3]
		grown = append(grown, NameEntry{"extra" + prefix, prefix, randomName(rng)})
		after := AssignNames(grown, 64)
		if !slices.Equal(after[:len(catalogue)], before) {
			t.Fatalf("AssignNames(%+q)[:%d] = %q, want %q", grown, len(catalogue), after[:len(catalogue)], before)
		}
	}
}

func TestAssignNamesOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var entries []NameEntry
	for i := range 300 {
		server := fmt.Sprintf("s%d", i%7)
		prefix := []string{"", "", "p", "p q", "s"}[i%5]
		entries = append(entries, NameEntry{server, prefix, randomName(rng)})
	}
	entries = append(entries, entries[:20]...) // duplicates
	want := make(map[NameEntry]string)
	for i, name := range AssignNames(entries, 64) {
		want[entries[i]] = name
	}
	checkUnique(t, entries, AssignNames(entries, 64))

	for range 100 {
		rng.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
		for i, got := range AssignNames(entries, 64) {
			if got != want[entries[i]] {
				t.Fatalf("AssignNames(shuffled, 64)[%d] = %q for %+q, want %q", i, got, entries[i], want[entries[i]])
			}
		}
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{"plain", "github__create_issue", true},
		{"all classes", "aZ09_-", true},
		{"64", strings.Repeat("a", 64), true},
		{"65", strings.Repeat("a", 65), false},
		{"empty", "", false},
		{"space", "a b", false},
		{"dot", "a.b", false},
		{"non-ASCII", "é", false},
		{"invalid UTF-8", "\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidName(tt.s); got != tt.want {
				t.Errorf("ValidName(%q) = %v, want %v", tt.s, got, tt.want)
			}
		})
	}
}

// unclean matches what step 1 replaces; regexp reads each byte of invalid
// UTF-8 as one rune, so it is an independent model of clean.
var unclean = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// modelName is the name of e alone (steps 1–4), written independently of
// names.go.
func modelName(e NameEntry) string {
	orig := unclean.ReplaceAllString(e.Original, "_")
	if orig == "" {
		orig = "_"
	}
	base := orig
	if e.Prefix != "" {
		base = unclean.ReplaceAllString(e.Prefix, "_") + "__" + orig
	}
	exact := ValidName(e.Original) && (e.Prefix == "" || ValidName(e.Prefix)) && ValidName(base)
	if exact {
		return base
	}
	return hashed(base, e.Server, e.Original)
}

func FuzzAssignNames(f *testing.F) {
	f.Add("github", "github", "create_issue", "create issue")
	f.Add("fs", "", "read.file", "read_file")
	f.Add("", "", "", "_")
	f.Add("a\x00b", "", "c", "b\x00c")
	f.Add("emoji", "🚀", "🚀 launch", "\xff\xfe")
	f.Add("s", "p__q", "r", "q__r")
	f.Add("long", "l", strings.Repeat("x", 61), strings.Repeat("x", 62))
	f.Fuzz(func(t *testing.T, server, prefix, original, original2 string) {
		entries := []NameEntry{
			{server, prefix, original},
			{server, prefix, original2},
			{"other", "", original},
			{server + "2", prefix + "2", original2},
		}
		// An exact name that equals the other entries' names.
		for _, name := range AssignNames(entries, 64) {
			entries = append(entries, NameEntry{"z" + server, "", name})
		}
		entries = append(entries, entries[0]) // a duplicate

		got := AssignNames(entries, 64)
		checkUnique(t, entries, got)

		if again := AssignNames(entries, 64); !slices.Equal(again, got) {
			t.Fatalf("AssignNames(%+q) = %q, then %q", entries, got, again)
		}
		rev := slices.Clone(entries)
		slices.Reverse(rev)
		gotRev := AssignNames(rev, 64)
		slices.Reverse(gotRev)
		if !slices.Equal(gotRev, got) {
			t.Fatalf("AssignNames(reversed %+q) = %q reversed, want %q", entries, gotRev, got)
		}

		for i, e := range entries {
			alone := AssignNames([]NameEntry{e}, 64)[0]
			if want := modelName(e); alone != want {
				t.Fatalf("AssignNames([%+q]) = %q, want %q", e, alone, want)
			}
			// An entry loses the name it would have alone only to an entry
			// that holds it.
			if got[i] != alone && !slices.Contains(got, alone) {
				t.Fatalf("AssignNames(%+q)[%d] = %q, but its own name %q is free", entries, i, got[i], alone)
			}
		}
	})
}

// FuzzAssignNamesLength checks that names fit any bound from 16 to 64 and
// stay valid, distinct, deterministic and independent of order.
func FuzzAssignNamesLength(f *testing.F) {
	f.Add("github", "github", "create issue", strings.Repeat("x", 70), uint8(32))
	f.Add("a-long-server-name", "a-long-server-name", "tool", "tool ", uint8(0))
	f.Add("s", "", "", "_", uint8(48))
	f.Fuzz(func(t *testing.T, server, prefix, original, original2 string, n uint8) {
		maxLen := 16 + int(n)%49
		entries := []NameEntry{
			{server, prefix, original},
			{server, prefix, original2},
			{"other", "", original},
			{server + "2", prefix + "2", original2},
		}
		for _, name := range AssignNames(entries, maxLen) {
			entries = append(entries, NameEntry{"z" + server, "", name})
		}
		got := AssignNames(entries, maxLen)
		checkUnique(t, entries, got)
		for i, name := range got {
			if len(name) > maxLen {
				t.Fatalf("AssignNames(%+q, %d)[%d] = %q, longer than %d", entries, maxLen, i, name, maxLen)
			}
		}
		rev := slices.Clone(entries)
		slices.Reverse(rev)
		gotRev := AssignNames(rev, maxLen)
		slices.Reverse(gotRev)
		if !slices.Equal(gotRev, got) {
			t.Fatalf("AssignNames(reversed %+q, %d) = %q reversed, want %q", entries, maxLen, gotRev, got)
		}
	})
}

// checkUnique fails tb unless every name is valid, equal entries have equal
// names and distinct entries have distinct names.
func checkUnique(tb testing.TB, entries []NameEntry, names []string) {
	tb.Helper()
	if len(names) != len(entries) {
		tb.Fatalf("AssignNames(%+q) returned %d names, want %d", entries, len(names), len(entries))
	}
	owner := make(map[string]NameEntry)
	for i, name := range names {
		if !ValidName(name) {
			tb.Fatalf("AssignNames(%+q)[%d] = %q, want a valid name", entries, i, name)
		}
		if prev, ok := owner[name]; ok && prev != entries[i] {
			tb.Fatalf("AssignNames(%+q): %+q and %+q are both named %q", entries, prev, entries[i], name)
		}
		owner[name] = entries[i]
	}
}

// randomName returns a tool name that is often plain and sometimes odd.
func randomName(rng *rand.Rand) string {
	const chars = "abcdefghij_-. /é🚀"
	runes := []rune(chars)
	n := 1 + rng.IntN(12)
	if rng.IntN(10) == 0 {
		n = 60 + rng.IntN(10)
	}
	var b strings.Builder
	for range n {
		if rng.IntN(4) == 0 {
			b.WriteRune(runes[rng.IntN(len(runes))])
		} else {
			b.WriteByte(chars[rng.IntN(10)])
		}
	}
	return b.String()
}

func BenchmarkAssignNames(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	entries := make([]NameEntry, 1000)
	for i := range entries {
		server := fmt.Sprintf("server%d", i%10)
		prefix := server
		if i%10 == 0 {
			prefix = "" // unprefixed servers collide with each other
		}
		entries[i] = NameEntry{server, prefix, randomName(rng)}
	}
	b.ReportAllocs()
	for b.Loop() {
		AssignNames(entries, 64)
	}
}
