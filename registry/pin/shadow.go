package pin

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// scanShadowing flags text of one server's definition that refers to
// another configured server's tools: by exposed name (prefix__tool), or
// by a distinctive name (see distinctive) that the server itself does
// not have. A description that speaks of another server's tools is
// instructing the model about them: the shadowing attack.
func scanShadowing(where, s string, own []string, peers []Peer) []Finding {
	var out []Finding
	lower := strings.ToLower(s)
	for _, p := range peers {
		if p.Prefix != "" {
			if i := strings.Index(lower, strings.ToLower(p.Prefix)+"__"); i >= 0 && atWordStart(lower, i) {
				out = append(out, Finding{"shadowing", where, fmt.Sprintf("refers to server %q's tools (%s__…)", p.Server, p.Prefix)})
				continue
			}
		}
		for _, n := range p.Names {
			if distinctive(n) && !slices.Contains(own, n) && containsWord(s, n) {
				out = append(out, Finding{"shadowing", where, fmt.Sprintf("refers to tool %q of server %q", n, p.Server)})
				break
			}
		}
	}
	return out
}

// distinctive reports whether a tool name is unlike any common word, so
// that text naming it names the tool: at least 5 characters with a "_",
// a "-" or a capital after the first letter (read_file, get-page,
// sendEmail; not echo or add).
func distinctive(name string) bool {
	if len(name) < 5 {
		return false
	}
	return strings.ContainsAny(name, "_-") || strings.IndexFunc(name[1:], unicode.IsUpper) >= 0
}

// containsWord reports whether s holds word as a token of its own: with
// no name character (letter, digit, "_", "-") right before or after it,
// and not inside a path, a method or a URL ("tools/list_changed",
// "fs.read_file", "x:read_file"), where it names something else.
func containsWord(s, word string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], word)
		if j < 0 {
			return false
		}
		at := i + j
		end := at + len(word)
		before := at == 0 || !nameByte(s[at-1]) && !strings.ContainsRune(pathBytes, rune(s[at-1]))
		after := end == len(s) || !nameByte(s[end]) && !(strings.ContainsRune(pathBytes, rune(s[end])) && end+1 < len(s) && nameByte(s[end+1]))
		if before && after {
			return true
		}
		i = at + 1
	}
}

// pathBytes join the parts of paths, methods and URLs.
const pathBytes = "/.:#$@\\"

func atWordStart(s string, i int) bool { return i == 0 || !nameByte(s[i-1]) }

func nameByte(b byte) bool {
	return b == '_' || b == '-' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= 0x80
}

// scanName flags a name that imitates another configured server's tool:
// one that mixes scripts (Latin with Cyrillic or Greek look-alikes), one
// that takes another server's namespace (github__create_issue served by
// another server), or one that reads as another server's tool but is not
// it (case or look-alike letters changed).
func scanName(name string, own []string, peers []Peer) []Finding {
	var out []Finding
	if scripts := scriptsOf(name); len(scripts) > 1 {
		out = append(out, Finding{"imitation", "name", "mixes " + strings.Join(scripts, " and ") + " letters"})
	}
	sk := skeleton(name)
	for _, p := range peers {
		if p.Prefix != "" && strings.HasPrefix(strings.ToLower(name), strings.ToLower(p.Prefix)+"__") {
			out = append(out, Finding{"imitation", "name", fmt.Sprintf("takes server %q's namespace", p.Server)})
		}
		for _, n := range p.Names {
			if n != name && !slices.Contains(own, n) && skeleton(n) == sk {
				out = append(out, Finding{"imitation", "name", fmt.Sprintf("looks like tool %q of server %q", n, p.Server)})
				break
			}
		}
	}
	return out
}

// scriptsOf returns the scripts among Latin, Cyrillic and Greek that the
// letters of s belong to.
func scriptsOf(s string) []string {
	var out []string
	for _, sc := range []struct {
		name  string
		table *unicode.RangeTable
	}{{"Latin", unicode.Latin}, {"Cyrillic", unicode.Cyrillic}, {"Greek", unicode.Greek}} {
		if strings.IndexFunc(s, func(r rune) bool { return unicode.Is(sc.table, r) }) >= 0 {
			out = append(out, sc.name)
		}
	}
	return out
}

// confusables maps letters that look like Latin ones to them.
var confusables = strings.NewReplacer(
	"а", "a", "е", "e", "о", "o", "р", "p", "с", "c", "у", "y", "х", "x", "і", "i", "ј", "j", "ѕ", "s", "ԁ", "d", "һ", "h", "ӏ", "l", "ԛ", "q", "ԝ", "w",
	"α", "a", "ε", "e", "ο", "o", "ρ", "p", "ι", "i", "κ", "k", "ν", "v", "τ", "t", "υ", "u", "χ", "x",
	"0", "o", "1", "l", "|", "l",
)

// skeleton is what a name looks like: lower case, look-alike letters
// mapped to Latin ones, and hidden characters dropped.
func skeleton(name string) string {
	s := confusables.Replace(strings.ToLower(name))
	return strings.Map(func(r rune) rune {
		if _, hidden := hiddenRune(string(r)); hidden {
			return -1
		}
		return r
	}, s)
}
