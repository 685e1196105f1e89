// Package search is the in-process index behind mcpmux's search mode: the
// tools of the merged catalogue, ranked for a request in plain words.
//
// An [Index] holds one [Doc] per exposed tool and ranks them with BM25F:
// each field (the names, the title, the description, the parameters'
// names and descriptions, the server's own text) counts with a weight of
// its own, terms are stemmed (Porter), stop words are left out, camel,
// snake and kebab case are split, and Han, Kana and Hangul runs are read
// as pairs of characters. A query's words also find their synonyms (a
// small general table) and the longer words of their family, at lower
// weights, and a tool that matches more of the query's words ranks
// higher. Equal scores are ordered by name.
//
// The index is fed by the proxy's merge with what changed ([Index.Put],
// [Index.Delete]); it does no I/O.
package search
