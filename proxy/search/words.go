package search

import "bytes"

// wordTable maps the words of [tokens], as their bytes, to their terms'
// ids: the cache that spares the index stemming a word it has seen. It is
// an open-addressing table over one block of bytes, which costs a build
// much less than a map of strings: the tokenizer hashes each word while it
// lower-cases it, and a lookup allocates nothing.
type wordTable struct {
	slots []wordSlot // a power of two long; at most half full
	bytes []byte     // the words, one after the other
	n     int
}

type wordSlot struct {
	hash uint32 // 0 for an empty slot
	off  uint32 // the word's bytes in wordTable.bytes
	len  uint16
	id   int32 // the term's id; -1 for a stop word
}

// hashWord is FNV-1a, as word computes it byte by byte; never 0.
func hashWord(w []byte) uint32 {
	h := uint32(fnvOffset)
	for _, c := range w {
		h = (h ^ uint32(c)) * fnvPrime
	}
	return max(h, 1)
}

const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

// get returns the id of the word w of hash h.
func (t *wordTable) get(w []byte, h uint32) (int32, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	mask := uint32(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.hash == 0 {
			return 0, false
		}
		if s.hash == h && int(s.len) == len(w) && bytes.Equal(t.bytes[s.off:s.off+uint32(s.len)], w) {
			return s.id, true
		}
	}
}

// put records the id of the word w of hash h, which the table does not
// hold; it does nothing once the table holds maxWords words.
func (t *wordTable) put(w []byte, h uint32, id int32) {
	if t.n >= maxWords || len(w) > 0xFFFF || len(t.bytes)+len(w) > 1<<31 {
		return
	}
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	off := uint32(len(t.bytes))
	t.bytes = append(t.bytes, w...)
	t.insert(wordSlot{hash: h, off: off, len: uint16(len(w)), id: id})
	t.n++
}

func (t *wordTable) insert(s wordSlot) {
	mask := uint32(len(t.slots) - 1)
	i := s.hash & mask
	for t.slots[i].hash != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = s
}

func (t *wordTable) grow() {
	old := t.slots
	t.slots = make([]wordSlot, max(2*len(old), 1024))
	for _, s := range old {
		if s.hash != 0 {
			t.insert(s)
		}
	}
}
