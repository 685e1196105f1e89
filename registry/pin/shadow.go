package pin

import (
	"fmt"
	"strings"
	"unicode"
)

// Peers are the configured servers as the shadowing and imitation rules
// see them, indexed once for every definition judged against them. A nil
// *Peers knows no server.
type Peers struct {
	prefixes  map[string]string  // lower-case prefix → server
	named     map[string][]owner // distinctive name → who has it
	skeletons map[string][]owner // skeleton → who has a name that looks so
}

// owner is one server's tool or prompt name.
type owner struct{ server, name string }

// NewPeers indexes peers.
func NewPeers(peers []Peer) *Peers {
	p := &Peers{prefixes: map[string]string{}, named: map[string][]owner{}, skeletons: map[string][]owner{}}
	for _, pe := range peers {
		if pe.Prefix != "" {
			p.prefixes[strings.ToLower(pe.Prefix)] = pe.Server
		}
		for _, n := range pe.Names {
			o := owner{pe.Server, n}
			if distinctive(n) {
				p.named[n] = append(p.named[n], o)
			}
			sk := skeleton(n)
			p.skeletons[sk] = append(p.skeletons[sk], o)
		}
	}
	return p
}

// other returns the first of owners that is not of server self and whose
// name self does not have too.
func other(owners []owner, self string, own map[string]bool) (owner, bool) {
	for _, o := range owners {
		if o.server != self && !own[o.name] {
			return o, true
		}
	}
	return owner{}, false
}

// scanShadowing flags text of server self's definition that refers to
// another configured server's tools: by exposed name (prefix__tool), or
// by a distinctive name (see distinctive) that self does not have. A
// description that speaks of another server's tools is instructing the
// model about them: the shadowing attack.
func scanShadowing(where, s, self string, own map[string]bool, p *Peers) []Finding {
	if p == nil {
		return nil
	}
	var out []Finding
	seen := map[string]bool{}
	add := func(detail string) {
		if !seen[detail] {
			seen[detail] = true
			out = append(out, Finding{"shadowing", where, detail})
		}
	}
	for _, tok := range tokens(s) {
		if pre, _, ok := strings.Cut(tok, "__"); ok {
			if server, ok := p.prefixes[strings.ToLower(pre)]; ok && server != self {
				add(fmt.Sprintf("refers to server %q's tools (%s__…)", server, pre))
				continue
			}
		}
		if o, ok := other(p.named[tok], self, own); ok {
			add(fmt.Sprintf("refers to tool %q of server %q", o.name, o.server))
		}
	}
	return out
}

// tokens returns the runs of name characters (letters, digits, "_", "-")
// in s that stand on their own: not inside a path, a method or a URL
// ("tools/list_changed", "fs.read_file", "x:read_file"), where they name
// something else.
func tokens(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		if !nameByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && nameByte(s[j]) {
			j++
		}
		before := i == 0 || !strings.ContainsRune(pathBytes, rune(s[i-1]))
		after := j == len(s) || !(strings.ContainsRune(pathBytes, rune(s[j])) && j+1 < len(s) && nameByte(s[j+1]))
		if before && after {
			out = append(out, s[i:j])
		}
		i = j
	}
	return out
}

// pathBytes join the parts of paths, methods and URLs.
const pathBytes = "/.:#$@\\"

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

func nameByte(b byte) bool {
	return b == '_' || b == '-' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= 0x80
}

// scanName flags a name of server self that imitates another configured
// server's tool: one that mixes scripts (Latin with Cyrillic or Greek
// look-alikes), one that takes another server's namespace
// (github__create_issue served by another server), or one that reads as
// another server's tool but is not it (case or look-alike letters
// changed).
func scanName(name, self string, own map[string]bool, p *Peers) []Finding {
	var out []Finding
	if scripts := scriptsOf(name); len(scripts) > 1 {
		out = append(out, Finding{"imitation", "name", "mixes " + strings.Join(scripts, " and ") + " letters"})
	}
	if p == nil {
		return out
	}
	if pre, _, ok := strings.Cut(name, "__"); ok {
		if server, ok := p.prefixes[strings.ToLower(pre)]; ok && server != self {
			out = append(out, Finding{"imitation", "name", fmt.Sprintf("takes server %q's namespace", server)})
		}
	}
	for _, o := range p.skeletons[skeleton(name)] {
		if o.server != self && o.name != name && !own[o.name] {
			out = append(out, Finding{"imitation", "name", fmt.Sprintf("looks like tool %q of server %q", o.name, o.server)})
			break
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
		if r >= 0x061C && invisible(r) {
			return -1
		}
		return r
	}, s)
}

// invisible reports whether r is one of the characters hiddenRune looks
// for, a zero-width joiner included.
func invisible(r rune) bool {
	return r >= 0xE0000 && r <= 0xE007F || r >= 0x200B && r <= 0x200F || r >= 0x202A && r <= 0x202E ||
		r >= 0x2060 && r <= 0x2069 || r == 0x061C || r == 0xFEFF || r == 0x180E
}
