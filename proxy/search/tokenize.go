package search

import (
	"unicode"
	"unicode/utf8"
)

// tokens calls emit with every word of text, in order: words split at
// case changes, digits and punctuation ("getFileInfo", "get_file_info"
// and "get-file-info" are all get, file, info), lower-cased; runs of Han,
// Kana or Hangul as overlapping pairs of characters (a lone character as
// itself), since those scripts do not separate words. plain says that the
// word is lower-case ASCII, which [term] may find a stop word or stem.
// The word's bytes are valid only during the call.
func tokens(text string, emit func(word []byte, plain bool)) {
	t := tokenizer{emit: emit}
	t.run(text)
}

// run reads text as [tokens] does, with t's emit; a tokenizer may run
// any number of texts, one after the other.
func (t *tokenizer) run(text string) {
	t.start, t.class, t.upper, t.prev, t.cjkRun = -1, classNone, 0, 0, 0
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			if t.start < 0 && t.cjkRun == 0 && isAlnum(c) {
				// The usual case: a whole ASCII word at once; most are
				// lower-case letters only, with nothing to split.
				j := i + 1
				lower := 'a' <= c && c <= 'z'
				for j < len(text) && isAlnum(text[j]) {
					lower = lower && 'a' <= text[j] && text[j] <= 'z'
					j++
				}
				if j == len(text) || text[j] < utf8.RuneSelf {
					if lower {
						t.word(text[i:j])
					} else {
						t.asciiWord(text[i:j])
					}
					i = j
					continue
				}
			}
			t.ascii(text, i, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case isCJK(r):
			t.flushWord(text, i)
			t.cjk(r)
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			t.flushCJK()
			switch {
			case t.start < 0:
				t.start, t.class = i, classOther
			case t.class == classDigit:
				t.flushWord(text, i)
				t.start, t.class = i, classOther
			default: // "créer": accented letters belong to the word
				t.class, t.upper = classOther, 0
			}
		default:
			t.flushWord(text, i)
			t.flushCJK()
		}
		i += size
	}
	t.flushWord(text, len(text))
	t.flushCJK()
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// asciiWord emits the parts of w, a run of ASCII letters and digits,
// split where the case or the kind of character changes, as ascii does
// byte by byte.
//
// A word of letters that changes case inside ("JavaScript", "GitHub",
// "getFileInfo") is also emitted whole, after its parts: people write
// such names as one word as often as not.
func (t *tokenizer) asciiWord(w string) {
	start := 0
	camel := false
	for i := 1; i < len(w); i++ {
		a, b := charClass(w[i-1]), charClass(w[i])
		switch {
		case a == b:
		case a == classUpper && b == classLower:
			// "HTTPServer": the last upper-case letter starts the next word.
			if i-1 > start {
				t.word(w[start : i-1])
				start = i - 1
				camel = true
			}
		default:
			t.word(w[start:i])
			start = i
			camel = camel || a != classDigit && b != classDigit
		}
	}
	t.word(w[start:])
	if camel && start > 0 {
		t.word(w)
	}
}

func charClass(c byte) int {
	switch {
	case 'a' <= c && c <= 'z':
		return classLower
	case 'A' <= c && c <= 'Z':
		return classUpper
	}
	return classDigit
}

// Classes of the characters in a word, whose changes split it.
const (
	classNone = iota
	classLower
	classUpper
	classDigit
	classOther // letters beyond ASCII
)

type tokenizer struct {
	emit   func([]byte, bool)
	start  int  // of the word being read; -1 for none
	class  int  // of its last character
	upper  int  // how many upper-case letters end it
	prev   rune // the last CJK character of the run being read; 0 for none
	cjkRun int  // how many characters that run holds
	buf    [64]byte
	// hash is hashWord of the word being emitted when word computed it,
	// else 0.
	hash uint32
}

// ascii reads one ASCII byte at i.
func (t *tokenizer) ascii(text string, i int, c byte) {
	var class int
	switch {
	case 'a' <= c && c <= 'z':
		class = classLower
	case 'A' <= c && c <= 'Z':
		class = classUpper
	case '0' <= c && c <= '9':
		class = classDigit
	default:
		t.flushWord(text, i)
		t.flushCJK()
		return
	}
	t.flushCJK()
	switch {
	case t.start < 0:
		t.begin(i, class)
	case t.class == classOther && class != classDigit:
		t.class = class
		if class == classUpper {
			t.upper = 1
		}
	case class == t.class && class != classUpper:
	case class == classUpper && t.class == classUpper:
		t.upper++
	case class == classLower && t.class == classUpper:
		// "HTTPServer": the last upper-case letter starts the next word.
		if t.upper > 1 {
			t.flushWord(text, i-1)
			t.begin(i-1, classUpper)
		}
		t.class, t.upper = classLower, 0
	default:
		t.flushWord(text, i)
		t.begin(i, class)
	}
}

func (t *tokenizer) begin(i, class int) {
	t.start, t.class, t.upper = i, class, 0
	if class == classUpper {
		t.upper = 1
	}
}

// flushWord emits the word that ends at end, if any.
func (t *tokenizer) flushWord(text string, end int) {
	if t.start < 0 || end <= t.start {
		t.start = -1
		return
	}
	w := text[t.start:end]
	t.start, t.class, t.upper = -1, classNone, 0
	t.word(w)
}

// word emits w lower-cased.
func (t *tokenizer) word(w string) {
	if len(w) > len(t.buf) {
		w = w[:len(t.buf)]
	}
	lower := t.buf[:len(w)]
	h := uint32(fnvOffset) // hashWord's, as the bytes are read
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= utf8.RuneSelf {
			t.hash = 0
			t.emit([]byte(lowerString(w)), false)
			return
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
		h = (h ^ uint32(c)) * fnvPrime
	}
	t.hash = max(h, 1)
	t.emit(lower, true)
}

// cjk reads one character of a CJK run.
func (t *tokenizer) cjk(r rune) {
	if t.prev != 0 {
		var b [8]byte
		n := utf8.EncodeRune(b[:], t.prev)
		n += utf8.EncodeRune(b[n:], r)
		t.hash = 0
		t.emit(b[:n], false)
	}
	t.prev = r
	t.cjkRun++
}

// flushCJK ends a CJK run; a run of one character is emitted alone.
func (t *tokenizer) flushCJK() {
	if t.cjkRun == 1 {
		var b [4]byte
		n := utf8.EncodeRune(b[:], t.prev)
		t.hash = 0
		t.emit(b[:n], false)
	}
	t.prev, t.cjkRun = 0, 0
}

// isCJK reports whether r is Han, Hiragana, Katakana or Hangul.
func isCJK(r rune) bool {
	switch {
	case r < 0x1100:
		return false
	case 0x4E00 <= r && r <= 0x9FFF, 0x3400 <= r && r <= 0x4DBF, 0x3040 <= r && r <= 0x30FF,
		0xAC00 <= r && r <= 0xD7AF, 0x1100 <= r && r <= 0x11FF, 0xF900 <= r && r <= 0xFAFF,
		0x20000 <= r && r <= 0x2FA1F:
		return true
	}
	return false
}

func lowerString(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		out = append(out, unicode.ToLower(r))
	}
	return string(out)
}

// term returns the term a word of [tokens] stands for; "" for a stop word.
func term(word []byte, plain bool) string {
	if !plain {
		return string(word)
	}
	if stopWords[string(word)] {
		return ""
	}
	return stem(string(word))
}
