package pin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Finding is one thing Scan flags in a definition.
type Finding struct {
	// Rule names the rule: "hidden-unicode", "instruction-block",
	// "ignore-instructions", "hide-from-user", "secrets", "shadowing" or
	// "imitation".
	Rule string `json:"rule"`
	// Where is the member it was found in: "name", "description",
	// "inputSchema", ...
	Where string `json:"where"`
	// Detail says what was found, short and printable.
	Detail string `json:"detail"`
}

// String reads "rule in where: detail".
func (f Finding) String() string { return fmt.Sprintf("%s in %s: %s", f.Rule, f.Where, f.Detail) }

// Peer is another configured server, as the shadowing and imitation rules
// see it.
type Peer struct {
	// Server is its name in the configuration.
	Server string
	// Prefix is the prefix of its exposed names; "" for none.
	Prefix string
	// Names are the upstream names of its tools and prompts.
	Names []string
}

// Scan returns what is suspicious in the canonical definition def of a
// tool or prompt of server self, by rule, in a stable order; nil for
// nothing. own are the names of self's tools and prompts, and peers the
// configured servers (self among them or not). The rules (see the
// README's "Tool pinning") are few on purpose: each is a sign of an
// attack, not of a style, and the real servers' catalogues in the tests
// raise none.
func Scan(def json.RawMessage, self string, own map[string]bool, peers *Peers) []Finding {
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(def))
	dec.UseNumber()
	if dec.Decode(&obj) != nil {
		return []Finding{{Rule: "hidden-unicode", Where: "definition", Detail: "not a JSON object"}}
	}
	var out []Finding
	add := func(f Finding) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	name, _ := obj["name"].(string)
	for _, where := range slices.Sorted(maps.Keys(obj)) {
		walkStrings(obj[where], func(s string) {
			for _, f := range scanText(where, s) {
				add(f)
			}
			if where != "name" {
				for _, f := range scanShadowing(where, s, self, own, peers) {
					add(f)
				}
			}
		})
	}
	for _, f := range scanName(name, self, own, peers) {
		add(f)
	}
	return out
}

// walkStrings calls fn with every string in v, object keys included.
func walkStrings(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case []any:
		for _, e := range v {
			walkStrings(e, fn)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			fn(k)
			walkStrings(v[k], fn)
		}
	}
}

// scanText applies the rules that need only the text itself.
func scanText(where, s string) []Finding {
	var out []Finding
	if r, ok := hiddenRune(s); ok {
		out = append(out, Finding{"hidden-unicode", where, fmt.Sprintf("U+%04X (%s)", r, runeKind(r))})
	}
	folded := fold(s)
	for _, rule := range textRules {
		if !slices.ContainsFunc(rule.need, func(w string) bool { return strings.Contains(folded, w) }) {
			continue // the rule's regexp is what costs; most text has none of its words
		}
		if m := rule.re.FindString(folded); m != "" {
			out = append(out, Finding{rule.name, where, quoteShort(m)})
		}
	}
	return out
}

// textRules are the instruction-like phrasings of injected text. They
// match text folded by fold: lower case, with every run of spaces one
// space. need are words one of which any match holds, a cheap test before
// the regexp.
var textRules = []struct {
	name string
	need []string
	re   *regexp.Regexp
}{
	// <IMPORTANT>, <system>, <instructions>: markup addressed to the model.
	{"instruction-block", []string{"<"}, regexp.MustCompile(`<\s*/?\s*(important|system|instructions?|secret|hidden|admin|critical|assistant|ai[-_ ]?note|note[-_ ]?to[-_ ]?(the[-_ ]?)?(ai|assistant|model|llm))\b[^<>]{0,40}>`)},
	{"ignore-instructions", []string{"instruction", "prompt", "rule", "direction", "directive", "guideline"}, regexp.MustCompile(`\b(ignore|disregard|forget|override)( all| any| the| your| of)* (previous|prior|above|earlier|preceding|other|system|original) (instructions|prompts?|rules|directions|directives|guidelines)`)},
	{"hide-from-user", []string{"user"}, regexp.MustCompile(`\b((do not|don't|dont|never|without|must not|mustn't|should not|shouldn't) (tell|telling|mention|mentioning|inform|informing|reveal|revealing|notify|notifying|alert|alerting|show|showing|disclose|disclosing)( this| it| that| anything| any of this)?( to)? the user|(hide|conceal|keep) (this|it|that)( secret)? from the user|the user (must|should) not (know|see|notice|be told))`)},
	{"secrets", []string{"ssh", "id_", ".env", "credential", ".netrc", ".pgpass", "shadow", ".kube", ".docker", ".npmrc", ".pypirc", "env", "key", "token", "password"}, regexp.MustCompile(`(~/\.ssh|\.ssh/|\bid_(rsa|dsa|ecdsa|ed25519)\b|(^|[\s'"` + "`" + `(/])\.env\b|\.aws/credentials|\.netrc\b|\.git-credentials|\.pgpass\b|/etc/shadow\b|\.kube/config\b|\.docker/config\.json|\.npmrc\b|\.pypirc\b|\b(read|get|collect|dump|send|pass|include|extract|copy|exfiltrate|leak|forward|upload|print|output|list|attach|put|paste|insert)( out)?( all| the| every| any| of| your| user's| the user's)* (environment variables|env vars|api keys?|secret keys?|private keys?|ssh keys?|access tokens?|passwords|credentials)\b)`)},
}

// hiddenRune returns the first rune of s that a person cannot see but a
// model reads: the Unicode tag block, bidirectional controls, and
// zero-width characters (a zero-width joiner between two pictographs,
// which makes one emoji, is allowed).
func hiddenRune(s string) (rune, bool) {
	prev := rune(0)
	for i, r := range s {
		switch {
		case r < 0x061C:
		case r >= 0xE0000 && r <= 0xE007F:
			return r, true
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
			return r, true
		case r == 0x200B, r == 0x200C, r == 0x2060, r == 0xFEFF, r == 0x180E, r == 0x2062, r == 0x2063, r == 0x2064:
			return r, true
		case r == 0x200D:
			rest := s[i+len("\u200d"):]
			next, _ := utf8.DecodeRuneInString(rest)
			if rest == "" || !pictograph(prev) || !pictograph(next) {
				return r, true
			}
		}
		prev = r
	}
	return 0, false
}

// pictograph reports whether r is an emoji-like symbol, which a zero-width
// joiner legitimately joins.
func pictograph(r rune) bool {
	return r >= 0x1F000 || r >= 0x2600 && r <= 0x27BF || r == 0xFE0F || unicode.Is(unicode.So, r)
}

// runeKind names the class of a hidden rune.
func runeKind(r rune) string {
	switch {
	case r >= 0xE0000 && r <= 0xE007F:
		return "tag character"
	case r == 0x200B, r == 0x200C, r == 0x200D, r == 0x2060, r == 0xFEFF, r == 0x180E:
		return "zero-width character"
	case r >= 0x2062 && r <= 0x2064:
		return "invisible operator"
	}
	return "bidirectional control"
}

// fold lowers s and makes every run of white space one space, so that
// the rules need not spell out case and spacing.
func fold(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(strings.ReplaceAll(s, "’", "'"))), " ")
}

// quoteShort quotes s, cut to 60 bytes at a rune boundary.
func quoteShort(s string) string {
	if len(s) > 60 {
		cut := 60
		for cut > 0 && !utf8RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return fmt.Sprintf("%q", s)
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
