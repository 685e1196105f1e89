package search

// stem reduces an English word (lower case ASCII letters) to its stem with
// the Porter algorithm (M.F. Porter, "An algorithm for suffix stripping",
// 1980), so that "listing", "lists" and "listed" meet at "list". Words of
// two letters or fewer, and words with other bytes, are returned as they
// are.
func stem(w string) string {
	if len(w) <= 2 {
		return w
	}
	for i := 0; i < len(w); i++ {
		if w[i] < 'a' || w[i] > 'z' {
			return w
		}
	}
	var buf [64]byte
	if len(w) > len(buf) {
		return w
	}
	s := &stemmer{b: append(buf[:0], w...)}
	s.step1a()
	s.step1b()
	s.step1c()
	s.step2()
	s.step3()
	s.step4()
	s.step5()
	if string(s.b) == w {
		return w
	}
	return string(s.b)
}

type stemmer struct {
	b []byte
}

// cons reports whether b[i] is a consonant.
func (s *stemmer) cons(i int) bool {
	switch s.b[i] {
	case 'a', 'e', 'i', 'o', 'u':
		return false
	case 'y':
		return i == 0 || !s.cons(i-1)
	}
	return true
}

// measure is m, the number of VC sequences in b[:n].
func (s *stemmer) measure(n int) int {
	m, i := 0, 0
	for i < n && s.cons(i) {
		i++
	}
	for i < n {
		for i < n && !s.cons(i) {
			i++
		}
		if i >= n {
			break
		}
		for i < n && s.cons(i) {
			i++
		}
		m++
	}
	return m
}

// vowelIn reports whether b[:n] holds a vowel.
func (s *stemmer) vowelIn(n int) bool {
	for i := 0; i < n; i++ {
		if !s.cons(i) {
			return true
		}
	}
	return false
}

// doubleCons reports whether b[:n] ends with a double consonant.
func (s *stemmer) doubleCons(n int) bool {
	return n >= 2 && s.b[n-1] == s.b[n-2] && s.cons(n-1)
}

// cvc reports whether b[:n] ends consonant-vowel-consonant, the last not
// w, x or y.
func (s *stemmer) cvc(n int) bool {
	if n < 3 || !s.cons(n-1) || s.cons(n-2) || !s.cons(n-3) {
		return false
	}
	c := s.b[n-1]
	return c != 'w' && c != 'x' && c != 'y'
}

func (s *stemmer) ends(suf string) bool {
	return len(s.b) >= len(suf) && string(s.b[len(s.b)-len(suf):]) == suf
}

// replace replaces the suffix suf (which b ends with) by rep if the stem
// before it has a measure above min.
func (s *stemmer) replace(suf, rep string, min int) bool {
	n := len(s.b) - len(suf)
	if s.measure(n) > min {
		s.b = append(s.b[:n], rep...)
	}
	return true
}

func (s *stemmer) step1a() {
	switch {
	case s.ends("sses"), s.ends("ies"):
		s.b = s.b[:len(s.b)-2]
	case s.ends("ss"):
	case s.ends("s"):
		s.b = s.b[:len(s.b)-1]
	}
}

func (s *stemmer) step1b() {
	if s.ends("eed") {
		if s.measure(len(s.b)-3) > 0 {
			s.b = s.b[:len(s.b)-1]
		}
		return
	}
	var n int
	switch {
	case s.ends("ed"):
		n = len(s.b) - 2
	case s.ends("ing"):
		n = len(s.b) - 3
	default:
		return
	}
	if !s.vowelIn(n) {
		return
	}
	s.b = s.b[:n]
	switch {
	case s.ends("at"), s.ends("bl"), s.ends("iz"):
		s.b = append(s.b, 'e')
	case s.doubleCons(n):
		if c := s.b[n-1]; c != 'l' && c != 's' && c != 'z' {
			s.b = s.b[:n-1]
		}
	case s.measure(n) == 1 && s.cvc(n):
		s.b = append(s.b, 'e')
	}
}

func (s *stemmer) step1c() {
	if s.ends("y") && s.vowelIn(len(s.b)-1) {
		s.b[len(s.b)-1] = 'i'
	}
}

var step2Rules = [][2]string{
	{"ational", "ate"}, {"tional", "tion"}, {"enci", "ence"}, {"anci", "ance"},
	{"izer", "ize"}, {"bli", "ble"}, {"alli", "al"}, {"entli", "ent"}, {"eli", "e"},
	{"ousli", "ous"}, {"ization", "ize"}, {"ation", "ate"}, {"ator", "ate"},
	{"alism", "al"}, {"iveness", "ive"}, {"fulness", "ful"}, {"ousness", "ous"},
	{"aliti", "al"}, {"iviti", "ive"}, {"biliti", "ble"}, {"logi", "log"},
}

func (s *stemmer) step2() {
	for _, r := range step2Rules {
		if s.ends(r[0]) {
			s.replace(r[0], r[1], 0)
			return
		}
	}
}

var step3Rules = [][2]string{
	{"icate", "ic"}, {"ative", ""}, {"alize", "al"}, {"iciti", "ic"},
	{"ical", "ic"}, {"ful", ""}, {"ness", ""},
}

func (s *stemmer) step3() {
	for _, r := range step3Rules {
		if s.ends(r[0]) {
			s.replace(r[0], r[1], 0)
			return
		}
	}
}

var step4Suffixes = []string{
	"al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment",
	"ent", "ion", "ou", "ism", "ate", "iti", "ous", "ive", "ize",
}

func (s *stemmer) step4() {
	// The longest suffix wins: "ement" before "ment" before "ent".
	best := ""
	for _, suf := range step4Suffixes {
		if len(suf) > len(best) && s.ends(suf) {
			best = suf
		}
	}
	if best == "" {
		return
	}
	n := len(s.b) - len(best)
	if best == "ion" && (n == 0 || (s.b[n-1] != 's' && s.b[n-1] != 't')) {
		return
	}
	if s.measure(n) > 1 {
		s.b = s.b[:n]
	}
}

func (s *stemmer) step5() {
	if s.ends("e") {
		n := len(s.b) - 1
		if m := s.measure(n); m > 1 || m == 1 && !s.cvc(n) {
			s.b = s.b[:n]
		}
	}
	if s.ends("ll") && s.measure(len(s.b)) > 1 {
		s.b = s.b[:len(s.b)-1]
	}
}
