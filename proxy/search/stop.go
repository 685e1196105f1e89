package search

// stopWords are English words too common to tell tools apart, from the
// usual lists (Lucene's, SMART's shortest), lower case.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range []string{
		"a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at",
		"be", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could",
		"did", "do", "does", "doing", "during", "each", "either", "etc", "for", "from", "further",
		"had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in",
		"into", "is", "it", "its", "itself", "just", "let", "may", "me", "might", "more", "most", "must", "my",
		"no", "nor", "not", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "out",
		"over", "own", "please", "same", "shall", "she", "should", "so", "some", "such", "than", "that", "the",
		"their", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too",
		"under", "until", "up", "us", "very", "via", "was", "we", "were", "what", "when", "where",
		"which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself",
		"want", "need", "e", "g", "eg", "ie",
	} {
		m[w] = true
	}
	return m
}()
