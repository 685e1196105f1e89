package search

import (
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
)

// Field is a part of a tool that the index weighs on its own.
type Field int

// The fields of a [Doc], from the most telling.
const (
	FieldName        Field = iota // the exposed and the upstream's names
	FieldTitle                    // the tool's title
	FieldDescription              // the tool's description
	FieldParams                   // parameter names and descriptions
	FieldServer                   // the server's name, title and instructions
	numFields
)

// weights are the fields' BM25F weights, and lengthNorm their b: how much
// a long field's terms count for less. A server's text is shared by all
// its tools and tells them apart only from other servers', so it weighs
// least; it is not length-normalised, being the same for its tools.
var (
	weights    = [numFields]float64{3.0, 2.0, 1.0, 0.5, 0.4}
	lengthNorm = [numFields]float64{0.5, 0.5, 0.75, 0.75, 0}
)

// The ranking's other settings. Weights are against a query's own words.
const (
	k1      = 1.2
	synW    = 0.5 // a query word's synonyms (see synonymGroups)
	prefixW = 0.3 // words that begin with a query word, or that it begins with
	coverW  = 0.3 // the exponent of the share of the query's words a tool matches
)

// Doc is one tool as the index sees it.
type Doc struct {
	// Name is the exposed name, which keys the document.
	Name string
	// Server is the configuration's name for the tool's server; Tool is
	// the upstream's own name for it.
	Server, Tool string
	// Text holds each field's text. FieldName is made of Name and Tool
	// when empty.
	Text [numFields]string
}

// Hit is one tool a search found.
type Hit struct {
	Name, Server, Tool string
	Score              float64
}

// Index is an inverted index of tools, ranked with BM25F. Put, PutAll
// and Delete change it in place, at the cost of the documents they
// change; Search may run concurrently with them and with other searches.
type Index struct {
	mu       sync.RWMutex
	terms    map[string]int32   // term → its id
	prefixes map[string][]int32 // a term's beginnings (see minPrefix) → the terms
	postings [][]posting        // by term id
	docs     []doc              // by slot; a free slot has name ""
	free     []int32
	byName   map[string]int32
	lenSum   [numFields]int64 // of the live documents
	live     int
	b        *builder // reads the small batches, with a dictionary kept between them
	added    []int32  // by term id: how many postings the batch adds (see lay)
	grown    []int32  // the terms whose count in added is not 0
}

type doc struct {
	name, server, tool string
	lens               [numFields]uint16
	terms              []int32 // distinct, for Delete
}

// posting is one document's term frequency in each field.
type posting struct {
	doc int32
	tf  [numFields]uint8
}

// New returns an empty index.
func New() *Index {
	return &Index{terms: map[string]int32{}, prefixes: map[string][]int32{}, byName: map[string]int32{}, b: newBuilder()}
}

// Len returns how many documents the index holds.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.live
}

// Put adds d, replacing the document of the same name.
func (x *Index) Put(d Doc) {
	x.PutAll([]Doc{d})
}

// PutAll adds docs, each replacing the document of its name; of two of
// one name, the last wins. A batch costs less than its documents one by
// one: their postings are laid out together, and a big batch is read by
// one goroutine per CPU.
func (x *Index) PutAll(docs []Doc) {
	if len(docs) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := range docs {
		x.remove(docs[i].Name)
	}
	if grow := len(docs) - len(x.free); grow > 0 {
		x.docs = slices.Grow(x.docs, grow)
	}
	if len(x.byName) == 0 && len(docs) > 1 {
		x.byName = make(map[string]int32, len(docs))
	}
	for len(docs) > 0 {
		docs = docs[x.batch(docs):]
	}
}

// batch adds the first of docs up to the second of a name, and returns
// how many it added.
func (x *Index) batch(docs []Doc) int {
	x.remove(docs[0].Name) // an earlier batch's document of the same name
	slots := make([]int32, 0, len(docs))
	for i := range docs {
		d := &docs[i]
		if i > 0 && x.has(d.Name) {
			break
		}
		var slot int32
		if n := len(x.free); n > 0 {
			slot, x.free = x.free[n-1], x.free[:n-1]
		} else {
			slot = int32(len(x.docs))
			x.docs = append(x.docs, doc{})
		}
		x.docs[slot] = doc{name: d.Name, server: d.Server, tool: d.Tool}
		x.byName[d.Name] = slot
		x.live++
		slots = append(slots, slot)
	}
	docs = docs[:len(slots)]
	bs := x.readAll(docs)
	// The documents' terms, for Delete, are the builders' ids, which are
	// the index's now: they are not reused.
	i := 0
	for _, b := range bs {
		x.merge(b)
		for j, lens := range b.lens {
			slot := slots[i]
			i++
			from, to := b.starts[j], b.starts[j+1]
			for k := from; k < to; k++ {
				b.ps[k].doc = slot
			}
			d := &x.docs[slot]
			d.lens = lens
			d.terms = b.ids[from:to:to]
			for f := range numFields {
				x.lenSum[f] += int64(lens[f])
			}
		}
	}
	x.lay(bs)
	x.b.ids = nil
	if cap(x.b.ps) > 1<<16 { // a big batch's buffer is not kept
		x.b.ps = nil
	}
	return len(slots)
}

// has reports whether the index holds a document named name.
func (x *Index) has(name string) bool {
	_, ok := x.byName[name]
	return ok
}

// Delete removes the document named name, if any.
func (x *Index) Delete(name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.remove(name)
}

// lay appends the builders' postings to their terms' lists, in order:
// the lists that grow from nothing are cut from one block, exactly as long
// as needed; the others grow by append.
func (x *Index) lay(bs []*builder) {
	if n := len(x.postings); len(x.added) < n {
		x.added = slices.Grow(x.added[:0], n)[:n]
	}
	x.grown = x.grown[:0]
	for _, b := range bs {
		for _, id := range b.ids {
			if x.added[id] == 0 {
				x.grown = append(x.grown, id)
			}
			x.added[id]++
		}
	}
	fresh := 0
	for _, id := range x.grown {
		if len(x.postings[id]) == 0 {
			fresh += int(x.added[id])
		}
	}
	if fresh > 0 {
		block := make([]posting, fresh)
		for _, id := range x.grown {
			if len(x.postings[id]) == 0 {
				n := int(x.added[id])
				x.postings[id], block = block[:0:n], block[n:]
			}
		}
	}
	for _, b := range bs {
		for i, id := range b.ids {
			x.postings[id] = append(x.postings[id], b.ps[i])
		}
	}
	for _, id := range x.grown {
		x.added[id] = 0
	}
}

// maxWords bounds a builder's cache of words' terms; past it, new words
// are stemmed every time.
const maxWords = 1 << 17

func (x *Index) remove(name string) {
	slot, ok := x.byName[name]
	if !ok {
		return
	}
	d := &x.docs[slot]
	for _, id := range d.terms {
		p := x.postings[id]
		if i := slices.IndexFunc(p, func(p posting) bool { return p.doc == slot }); i >= 0 {
			p[i] = p[len(p)-1]
			x.postings[id] = p[:len(p)-1]
		}
	}
	for f := range numFields {
		x.lenSum[f] -= int64(d.lens[f])
	}
	*d = doc{}
	delete(x.byName, name)
	x.free = append(x.free, slot)
	x.live--
}

// queryTerm is one term of a query, with its weight.
type queryTerm struct {
	id     int32
	weight float64
	word   int // the query's word it stands for
}

// Search returns the best limit documents for query, best first; only
// those of server if it is not empty. Equal scores are ordered by name.
func (x *Index) Search(query string, limit int, server string) []Hit {
	if server == "" {
		return x.SearchFunc(query, limit, nil)
	}
	return x.SearchFunc(query, limit, func(_, s string) bool { return s == server })
}

// SearchFunc is Search among the documents that keep keeps (nil keeps
// every one), by name and server.
func (x *Index) SearchFunc(query string, limit int, keep func(name, server string) bool) []Hit {
	if limit <= 0 {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	terms, nwords := x.parse(query)
	if len(terms) == 0 || x.live == 0 {
		return nil
	}
	var avg [numFields]float64
	for f := range numFields {
		avg[f] = max(float64(x.lenSum[f])/float64(x.live), 1)
	}
	acc := getScores(len(x.docs))
	defer putScores(acc)
	n := float64(x.live)
	for _, qt := range terms {
		p := x.postings[qt.id]
		if len(p) == 0 {
			continue
		}
		df := float64(len(p))
		idf := math.Log(1+(n-df+0.5)/(df+0.5)) * qt.weight
		for _, pst := range p {
			d := &x.docs[pst.doc]
			if keep != nil && !keep(d.name, d.server) {
				continue
			}
			w := 0.0
			for f := range numFields {
				if tf := pst.tf[f]; tf > 0 {
					norm := 1 - lengthNorm[f] + lengthNorm[f]*float64(d.lens[f])/avg[f]
					w += weights[f] * float64(tf) / norm
				}
			}
			acc.add(pst.doc, idf*w/(k1+w), qt.word)
		}
	}
	acc.cover(min(nwords, 64))
	return x.top(acc, limit)
}

// parse returns the query's terms and their synonyms that the index
// holds, each once, with its weight.
func (x *Index) parse(query string) ([]queryTerm, int) {
	var out []queryTerm
	seen := map[int32]int{}
	word := 0
	var addID func(int32, float64)
	add := func(term string, w float64) {
		if id, ok := x.terms[term]; ok {
			addID(id, w)
		}
	}
	addID = func(id int32, w float64) {
		if i, ok := seen[id]; ok {
			out[i].weight = max(out[i].weight, w)
			return
		}
		seen[id] = len(out)
		out = append(out, queryTerm{id: id, weight: w, word: min(word, 63)})
	}
	var words []string
	tokens(query, func(word []byte, plain bool) {
		if t := term(word, plain); t != "" && !contains(words, t) {
			words = append(words, t)
		}
	})
	for i, t := range words {
		word = i
		add(t, 1)
	}
	for i, t := range words {
		word = i
		for _, s := range synonyms.of(t) {
			add(s, synW)
		}
	}
	for i, t := range words {
		word = i
		// Words of one family that stemming leaves apart ("relation",
		// "relationship"; "config", "configuration").
		for _, id := range x.prefixes[t] {
			addID(id, prefixW)
		}
		for n := minPrefix; n < len(t); n++ {
			add(t[:n], prefixW)
		}
	}
	return out, len(words)
}

// top returns the limit best documents of acc, best first, by name on
// equal scores: a bounded insertion, since limit is small and the
// documents touched may be many.
func (x *Index) top(acc *scores, limit int) []Hit {
	best := make([]Hit, 0, min(limit, len(acc.touched)))
	for _, slot := range acc.touched {
		h := Hit{Score: acc.s[slot]}
		if len(best) == limit && !better(h.Score, x.docs[slot].name, best[limit-1]) {
			continue
		}
		d := &x.docs[slot]
		h.Name, h.Server, h.Tool = d.name, d.server, d.tool
		i, _ := slices.BinarySearchFunc(best, h, func(a, b Hit) int {
			if better(a.Score, a.Name, b) {
				return -1
			}
			return 1
		})
		if len(best) == limit {
			best = best[:limit-1]
		}
		best = slices.Insert(best, i, h)
	}
	return best
}

// better reports whether a document of score and name ranks before h.
func better(score float64, name string, h Hit) bool {
	if score != h.Score {
		return score > h.Score
	}
	return strings.Compare(name, h.Name) < 0
}

// scores accumulates the documents' scores of one search.
type scores struct {
	s       []float64
	words   []uint64 // the query's words each document matched, as bits
	touched []int32
}

func (a *scores) add(slot int32, v float64, word int) {
	if a.s[slot] == 0 {
		a.touched = append(a.touched, slot)
	}
	a.s[slot] += v
	a.words[slot] |= 1 << word
}

// cover weighs each score by the share of the query's words the
// document matched: a tool that answers every word of a request beats
// one that answers a single word many times.
func (a *scores) cover(words int) {
	if coverW == 0 {
		return
	}
	for _, slot := range a.touched {
		share := float64(bits.OnesCount64(a.words[slot])) / float64(words)
		a.s[slot] *= math.Pow(share, coverW)
	}
}

var scorePool sync.Pool

func getScores(n int) *scores {
	a, _ := scorePool.Get().(*scores)
	if a == nil {
		a = &scores{}
	}
	if cap(a.s) < n {
		a.s = make([]float64, n)
		a.words = make([]uint64, n)
	}
	a.s, a.words = a.s[:n], a.words[:n]
	return a
}

func putScores(a *scores) {
	for _, slot := range a.touched {
		a.s[slot], a.words[slot] = 0, 0
	}
	a.touched = a.touched[:0]
	scorePool.Put(a)
}

// minPrefix is the shortest beginning of a word that finds the longer
// words of its family.
const minPrefix = 5

// addPrefixes records the beginnings of a new term that are minPrefix
// bytes long or more (ASCII words only).
func (x *Index) addPrefixes(term string, id int32) {
	for i := 0; i < len(term); i++ {
		if term[i] < 'a' || term[i] > 'z' {
			return
		}
	}
	for n := minPrefix; n < len(term); n++ {
		x.prefixes[term[:n]] = append(x.prefixes[term[:n]], id)
	}
}
