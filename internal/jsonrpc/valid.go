package jsonrpc

import (
	"encoding/binary"
	"math/bits"
)

// maxDepth is how deeply arrays and objects may nest: encoding/json's
// limit, so that [Valid] refuses what json.Valid refuses.
const maxDepth = 10000

// Valid reports whether data is one JSON value, with white space around
// it allowed. It answers exactly as encoding/json's Valid does (invalid
// UTF-8 inside strings is allowed, nesting is limited to 10,000 levels),
// without its per-byte state machine: every message mcpmux reads is
// checked once, and on a short tools/call json.Valid alone cost as much
// as the rest of the hop's parsing.
func Valid(data []byte) bool {
	i := validValue(data, 0, 0)
	return i >= 0 && skipSpace(data, i) == len(data)
}

// validValue returns the index after the JSON value that starts at
// data[i], after white space, or -1 if there is no valid one; depth is
// how deeply that value is nested already.
func validValue(data []byte, i, depth int) int {
	st := nesting{depth: depth, base: depth}
	for {
		// A value starts at i.
		i = skipSpace(data, i)
		if i >= len(data) {
			return -1
		}
		switch c := data[i]; {
		case c == '{' || c == '[':
			if !st.push(c == '{') {
				return -1
			}
			i = skipSpace(data, i+1)
			if i < len(data) && data[i] == closing(c) {
				st.pop()
				i++
				break // an empty container is a whole value
			}
			if c == '{' {
				if i = validKey(data, i); i < 0 {
					return -1
				}
			}
			continue
		case c == '"':
			i = validString(data, i)
		case c == 't':
			i = validLiteral(data, i, "true")
		case c == 'f':
			i = validLiteral(data, i, "false")
		case c == 'n':
			i = validLiteral(data, i, "null")
		default:
			i = validNumber(data, i)
		}
		if i < 0 {
			return -1
		}
		// A value ended at i: what follows is a separator, or the end of
		// its container(s), or of the value begun at depth.
		var more bool
		if i, more = st.after(data, i); i < 0 || !more {
			return i
		}
	}
}

func closing(open byte) byte {
	if open == '{' {
		return '}'
	}
	return ']'
}

// after reads what follows a value that ended at data[i]: the closing
// brackets of the containers it ends, and a comma (and, in an object, the
// next member's name and colon) before the next value, for which it
// returns true. Back at the level it began at, it returns false, and i.
// It returns -1 (and false) for anything else.
func (st *nesting) after(data []byte, i int) (int, bool) {
	for {
		if st.depth == st.base {
			return i, false
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return -1, false
		}
		switch c, obj := data[i], st.top(); {
		case c == ',' && obj:
			return validKey(data, skipSpace(data, i+1)), true
		case c == ',':
			return i + 1, true
		case c == '}' && obj, c == ']' && !obj:
			st.pop()
			i++
		default:
			return -1, false
		}
	}
}

// validKey reads a member's name at data[i] and the colon after it; it
// returns the index after the colon, or -1.
func validKey(data []byte, i int) int {
	if i >= len(data) || data[i] != '"' {
		return -1
	}
	if i = validString(data, i); i < 0 {
		return -1
	}
	i = skipSpace(data, i)
	if i >= len(data) || data[i] != ':' {
		return -1
	}
	return i + 1
}

// stringByte marks the bytes that end the plain run of a string: the
// quote, the backslash and the control characters, which JSON forbids
// unescaped.
var stringByte = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// validString returns the index after the string whose opening quote is
// data[i], or -1 if it is not a valid string.
func validString(data []byte, i int) int {
	i++
	for {
		if i = plainRun(data, i); i >= len(data) {
			return -1
		}
		switch c := data[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		}
		// A backslash.
		if i+1 >= len(data) {
			return -1
		}
		switch data[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if i+5 >= len(data) || !isHex(data[i+2]) || !isHex(data[i+3]) || !isHex(data[i+4]) || !isHex(data[i+5]) {
				return -1
			}
			i += 6
		default:
			return -1
		}
	}
}

// Words of eight bytes, each b, for plainRun.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainRun returns the index of the first byte from data[i] that ends a
// string's plain run (see stringByte), or len(data). It reads eight bytes
// at a time: in a word, the lowest byte that below or zeroByte flags is
// exactly the first such byte, since no borrow reaches it from below.
func plainRun(data []byte, i int) int {
	for ; i+8 <= len(data); i += 8 {
		w := binary.LittleEndian.Uint64(data[i:])
		if m := (below(w, 0x20) | zeroByte(w^'"'*ones) | zeroByte(w^'\\'*ones)) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(data) && !stringByte[data[i]] {
		i++
	}
	return i
}

// below has the high bit set in some byte if a byte of w is below n
// (at most 0x80); zeroByte, if a byte of w is zero. Neither sets one
// otherwise.
func below(w, n uint64) uint64 { return (w - n*ones) &^ w }
func zeroByte(w uint64) uint64 { return below(w, 1) }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// validLiteral returns the index after lit at data[i], or -1.
func validLiteral(data []byte, i int, lit string) int {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// validNumber returns the index after the number at data[i], or -1: an
// optional minus, an integer without leading zeros, an optional fraction
// and an optional exponent.
func validNumber(data []byte, i int) int {
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		i = digits(data, i+1)
	default:
		return -1
	}
	if i < len(data) && data[i] == '.' {
		j := digits(data, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := digits(data, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

// digits returns the index after the decimal digits from data[i].
func digits(data []byte, i int) int {
	for i < len(data) && '0' <= data[i] && data[i] <= '9' {
		i++
	}
	return i
}

// nesting is the stack of containers [Valid] is in, a bit each: set for
// an object, clear for an array.
type nesting struct {
	depth int
	base  int      // the depth it began at, below which it never goes
	small uint64   // the first 64 levels
	big   []uint64 // the levels after them, 64 a word
}

// push enters a container; it reports false past maxDepth.
func (n *nesting) push(obj bool) bool {
	if n.depth >= maxDepth {
		return false
	}
	word, bit := n.word(n.depth)
	if obj {
		*word |= bit
	} else {
		*word &^= bit
	}
	n.depth++
	return true
}

func (n *nesting) pop() { n.depth-- }

// top reports whether the innermost container is an object.
func (n *nesting) top() bool {
	word, bit := n.word(n.depth - 1)
	return *word&bit != 0
}

// word returns the word and the bit of level d, growing big as needed.
func (n *nesting) word(d int) (*uint64, uint64) {
	if d < 64 {
		return &n.small, 1 << d
	}
	w := d/64 - 1
	for len(n.big) <= w {
		n.big = append(n.big, 0)
	}
	return &n.big[w], 1 << (d % 64)
}
