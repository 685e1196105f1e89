package search

import (
	"math"
	"runtime"
	"slices"
	"sync"
)

// builder reads documents into postings, with a dictionary of its own:
// the index keeps one for its updates, and a big batch is read by several
// at once, one per CPU, whose terms are then mapped to the index's.
type builder struct {
	tok   tokenizer
	words wordTable        // a word of tokens → its local term; -1 for a stop word
	terms map[string]int32 // a term → its local id
	list  []string         // by local id: the term
	glob  []int32          // by local id: the index's id, once merged
	seen  []int32          // by local id: its posting in the document being read, or -1
	// shared caches the terms of the texts that many documents share
	// (a server's text is the same for all its tools).
	shared map[string]sharedText

	ps     []posting // the batch's postings, in order of documents
	ids    []int32   // their terms: local ids, then the index's once merged
	starts []int32   // each document's first posting in ps, and len(ps)
	lens   [][numFields]uint16

	first int // the current document's first posting in ps
	field Field
	n     int // the words the field read so far
}

// sharedText is the terms of one field's text, as the builder counts them.
type sharedText struct {
	ids []int32
	tf  []uint8
	n   int // words, stop words left out
}

// maxShared bounds the cache of shared texts.
const maxShared = 1024

func newBuilder() *builder {
	b := &builder{terms: map[string]int32{}}
	b.tok.emit = b.word
	return b
}

// reset empties the batch, keeping the dictionary; size is about how
// many postings the next one holds.
func (b *builder) reset(size int) {
	b.ps, b.ids = slices.Grow(b.ps[:0], size), slices.Grow(b.ids[:0], size)
	b.starts, b.lens = b.starts[:0], b.lens[:0]
}

// estimate is about how many postings docs make: one for every 8 bytes of
// text, at most. It reads every document's length, not a sample's, so
// that a few huge texts cannot make it reserve more than the texts' own
// size.
func estimate(docs []Doc) int {
	if len(docs) < 2 {
		return 0
	}
	size := 0
	for i := range docs {
		for _, t := range docs[i].Text {
			size += len(t)
		}
	}
	return size / 8
}

// read reads docs into the batch.
func (b *builder) read(docs []Doc) {
	for i := range docs {
		b.add(&docs[i])
	}
	b.starts = append(b.starts, int32(len(b.ps)))
}

func (b *builder) add(d *Doc) {
	b.starts = append(b.starts, int32(len(b.ps)))
	b.first = len(b.ps)
	var lens [numFields]uint16
	for f := range numFields {
		b.field, b.n = f, 0
		text := d.Text[f]
		switch {
		case f == FieldName && text == "":
			b.tok.run(d.Name)
			b.tok.run(d.Tool)
		case f == FieldServer:
			b.sharedField(text)
		default:
			b.tok.run(text)
		}
		lens[f] = uint16(min(b.n, math.MaxUint16))
	}
	for i := b.first; i < len(b.ps); i++ {
		b.seen[b.ids[i]] = -1
	}
	b.lens = append(b.lens, lens)
}

// word counts one word of the field being read.
func (b *builder) word(word []byte, plain bool) {
	h := b.tok.hash
	if h == 0 {
		h = hashWord(word)
	}
	id, ok := b.words.get(word, h)
	if !ok {
		id = -1
		if t := term(word, plain); t != "" {
			if id, ok = b.terms[t]; !ok {
				id = int32(len(b.list))
				b.terms[t] = id
				b.list = append(b.list, t)
				b.seen = append(b.seen, -1)
			}
		}
		b.words.put(word, h, id)
	}
	if id >= 0 {
		b.count(id, 1)
	}
}

// count adds tf to the current document's frequency of the term id in
// the field being read.
func (b *builder) count(id int32, tf int) {
	b.n += tf
	i := b.seen[id]
	if i < 0 {
		i = int32(len(b.ps))
		b.seen[id] = i
		b.ps = append(b.ps, posting{})
		b.ids = append(b.ids, id)
	}
	p := &b.ps[i].tf[b.field]
	*p = uint8(min(int(*p)+tf, math.MaxUint8))
}

// sharedField reads text, which many documents share, through the cache
// of shared texts.
func (b *builder) sharedField(text string) {
	if text == "" {
		return
	}
	st, ok := b.shared[text]
	if !ok {
		// Read it as a document of its own, after the current one.
		from, first := len(b.ps), b.first
		for i := first; i < from; i++ {
			b.seen[b.ids[i]] = -1
		}
		b.first = from
		b.tok.run(text)
		st.n = b.n
		for i := from; i < len(b.ps); i++ {
			st.ids = append(st.ids, b.ids[i])
			st.tf = append(st.tf, b.ps[i].tf[b.field])
			b.seen[b.ids[i]] = -1
		}
		b.ps, b.ids = b.ps[:from], b.ids[:from]
		b.first = first
		for i := first; i < from; i++ {
			b.seen[b.ids[i]] = int32(i)
		}
		if b.shared == nil || len(b.shared) >= maxShared {
			b.shared = map[string]sharedText{}
		}
		b.shared[text] = st
	}
	for i, id := range st.ids {
		b.count(id, int(st.tf[i]))
	}
	b.n = st.n
}

// parallelMin is the smallest batch that is read by several builders.
const parallelMin = 1024

// readAll reads docs into builders: x.b for a small batch, one per CPU
// for a big one, each a contiguous part of docs.
func (x *Index) readAll(docs []Doc) []*builder {
	workers := min(runtime.GOMAXPROCS(0), len(docs)/(parallelMin/2), 8)
	if workers < 2 {
		x.b.reset(estimate(docs))
		x.b.read(docs)
		return []*builder{x.b}
	}
	bs := make([]*builder, workers)
	var wg sync.WaitGroup
	for w := range bs {
		part := docs[w*len(docs)/workers : (w+1)*len(docs)/workers]
		b := newBuilder()
		bs[w] = b
		wg.Go(func() {
			b.reset(estimate(part))
			b.read(part)
		})
	}
	wg.Wait()
	return bs
}

// merge maps b's new local terms to the index's, adding the terms the
// index lacks, and its postings' terms with them.
func (x *Index) merge(b *builder) {
	for i := len(b.glob); i < len(b.list); i++ {
		t := b.list[i]
		id, ok := x.terms[t]
		if !ok {
			id = int32(len(x.postings))
			x.terms[t] = id
			x.postings = append(x.postings, nil)
			x.addPrefixes(t, id)
		}
		b.glob = append(b.glob, id)
	}
	for i, id := range b.ids {
		b.ids[i] = b.glob[id]
	}
}
