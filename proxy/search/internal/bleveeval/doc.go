// Package bleveeval measures Bleve v2, with BM25 scoring, on the same
// sets and the same 10,000 synthetic tools as mcpmux's own index
// (proxy/search), so that the choice between them rests on numbers. It is
// a module of its own: Bleve is not a dependency of mcpmux.
//
//	cd proxy/search/internal/bleveeval && go test -run TestCompare -v -bench . -benchmem
package bleveeval
