package pin

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Policy is what happens to a definition that changed or is flagged.
type Policy string

// The policies of "toolPinning".
const (
	// Withhold leaves it out of the lists, and refuses calls to it, until
	// the user approves it. The default.
	Withhold Policy = "withhold"
	// Warn lists it all the same, and logs and shows it.
	Warn Policy = "warn"
	// Off neither pins nor scans.
	Off Policy = "off"
)

// Policies are the valid values of "toolPinning".
var Policies = []Policy{Withhold, Warn, Off}

// Book is what mcpmux has pinned, by configured server. Its zero value is
// empty; it is not safe for concurrent use. Its JSON form is what
// registry/store keeps.
type Book struct {
	Servers map[string]*Pins `json:"servers"`
	// Recovered, if set, says that the book was started afresh because the
	// file that held it was damaged: what the user approved is not known.
	// Until the user approves them, the definitions of a server first seen
	// since are withheld (see Record.Unconfirmed), rather than pinned as
	// they come: withholding a tool until the user looks costs a command,
	// pinning a changed one would approve a rug pull. Approve clears it
	// once nothing unconfirmed is left.
	Recovered *Recovery `json:"recovered,omitempty"`
}

// Recovery tells of the damaged file a book replaced.
type Recovery struct {
	// MovedTo is where the damaged file was moved.
	MovedTo string    `json:"movedTo"`
	At      time.Time `json:"at"`
}

// Pins are one server's pinned definitions, by the upstream's own names.
type Pins struct {
	Tools   map[string]*Record `json:"tools,omitempty"`
	Prompts map[string]*Record `json:"prompts,omitempty"`
	// Seen is when one of the server's definitions was last judged, to a
	// day (see SeenEvery): Prune forgets servers not seen for long.
	Seen time.Time `json:"seen,omitzero"`
}

// SeenEvery is how often Check moves a server's Pins.Seen on: often
// enough for Prune, seldom enough not to rewrite the file at every start.
const SeenEvery = 24 * time.Hour

// Record is one pinned definition.
type Record struct {
	// Fingerprint is that of the approved definition (see Fingerprint).
	Fingerprint string `json:"fingerprint"`
	// Definition is the approved definition, canonical (see Canonical),
	// kept to say what a change changed.
	Definition json.RawMessage `json:"definition"`
	// Trusted says the user approved this definition with mcpmux trust:
	// what Scan finds in it no longer withholds it.
	Trusted bool `json:"trusted,omitempty"`
	// Unconfirmed says that it was pinned at first sight after the book
	// was recovered from a damaged file (see Book.Recovered): it is
	// withheld until the user approves it.
	Unconfirmed bool `json:"unconfirmed,omitempty"`
	// Since is when it was pinned or approved.
	Since time.Time `json:"since"`
	// Pending is the definition last seen, when it is not the approved
	// one or Scan flags it: what mcpmux trust approves. Nil otherwise.
	Pending *Sighting `json:"pending,omitempty"`
}

// Sighting is a definition seen that the record does not approve.
type Sighting struct {
	Fingerprint string          `json:"fingerprint"`
	Definition  json.RawMessage `json:"definition"`
	// Changed are the members in which it differs from the approved one
	// (see Changes); empty for a definition flagged at first sight.
	Changed []string `json:"changed,omitempty"`
	// Findings are what Scan found in it.
	Findings []Finding `json:"findings,omitempty"`
	// Unconfirmed says that it was first seen after the pins file was
	// damaged (see Record.Unconfirmed).
	Unconfirmed bool `json:"unconfirmed,omitempty"`
	// Withheld says that it was withheld (policy withhold) rather than
	// only shown (policy warn).
	Withheld bool      `json:"withheld"`
	Seen     time.Time `json:"seen"`
}

// Reason says, in a few words, why the sighting is not approved:
// "changed description, inputSchema; secrets in description: ...".
func (s *Sighting) Reason() string {
	var parts []string
	if len(s.Changed) > 0 {
		parts = append(parts, "changed "+strings.Join(s.Changed, ", "))
	}
	for _, f := range s.Findings {
		parts = append(parts, f.String())
	}
	if s.Unconfirmed {
		parts = append(parts, "first seen after the pins file was damaged and set aside")
	}
	if len(parts) == 0 {
		return "not approved"
	}
	return strings.Join(parts, "; ")
}

// Verdict is what Check decides of one definition.
type Verdict struct {
	// Withhold says to leave the definition out and refuse calls to it.
	Withhold bool
	// Sighting is set when the definition is not approved, withheld or
	// not (policy warn): why.
	Sighting *Sighting
	// Recorded says that Check changed the book: a first sight, a new
	// sighting, or one cleared.
	Recorded bool
}

// Subject is one definition to judge.
type Subject struct {
	Server string
	Kind   Kind
	// Name is the upstream's own name.
	Name string
	// Raw is the definition as the upstream sent it.
	Raw json.RawMessage
	// Own are the names of the server's tools and prompts; Peers the
	// configured servers (see Scan).
	Own   map[string]bool
	Peers *Peers
}

// Check judges the definition sub under policy at time now, pinning it at
// first sight and recording a sighting that is not approved.
func (b *Book) Check(sub Subject, policy Policy, now time.Time) Verdict {
	if policy == Off {
		return Verdict{}
	}
	canon, err := Canonical(sub.Kind, sub.Raw)
	if err != nil {
		canon = json.RawMessage(`null`)
	}
	fp := Fingerprint(canon)
	unconfirmed := b.Recovered != nil && b.unconfirmed(sub.Server)
	recs := b.records(sub.Server, sub.Kind, true)
	v := Verdict{Recorded: b.see(sub.Server, now)}
	rec := recs[sub.Name]
	var findings []Finding
	if rec == nil || !(rec.Trusted && rec.Fingerprint == fp) {
		findings = Scan(canon, sub.Server, sub.Own, sub.Peers)
	}
	if rec == nil {
		rec = &Record{Fingerprint: fp, Definition: canon, Since: now, Unconfirmed: unconfirmed}
		recs[sub.Name] = rec
		v.Recorded = true
	}
	if rec.Fingerprint == fp && len(findings) == 0 && !rec.Unconfirmed {
		if rec.Pending != nil {
			rec.Pending, v.Recorded = nil, true
		}
		return v
	}
	s := &Sighting{Fingerprint: fp, Definition: canon, Findings: findings, Unconfirmed: rec.Unconfirmed, Withheld: policy != Warn, Seen: now}
	if rec.Fingerprint != fp {
		s.Changed = Changes(rec.Definition, canon)
	}
	if p := rec.Pending; p == nil || p.Fingerprint != s.Fingerprint || p.Withheld != s.Withheld || p.Unconfirmed != s.Unconfirmed || !slices.Equal(p.Findings, s.Findings) {
		rec.Pending, v.Recorded = s, true
	} else {
		s = p // seen before: keep when
	}
	v.Sighting, v.Withhold = s, s.Withheld
	return v
}

// unconfirmed reports whether nothing of server is pinned but what was
// first seen after the book was recovered: its first sights are not
// confirmed either. A server that has something approved is known, and a
// new tool of a known server is pinned as usual.
func (b *Book) unconfirmed(server string) bool {
	p := b.Servers[server]
	if p == nil {
		return true
	}
	for _, recs := range []map[string]*Record{p.Tools, p.Prompts} {
		for _, r := range recs {
			if !r.Unconfirmed {
				return false
			}
		}
	}
	return true
}

// see moves server's Seen on to now if it is SeenEvery old, and reports
// whether it did.
func (b *Book) see(server string, now time.Time) bool {
	p := b.Servers[server]
	if p == nil || now.Sub(p.Seen) < SeenEvery {
		return false
	}
	p.Seen = now
	return true
}

// Prune forgets the servers whose definitions nobody judged for maxAge
// before now (removed from every configuration, say), and the servers
// not in keep, if keep is not nil. A server never seen (a book written
// before Seen was kept) is seen now: its age starts. It returns the
// servers it forgot, sorted.
func (b *Book) Prune(now time.Time, maxAge time.Duration, keep map[string]bool) []string {
	var gone []string
	for name, p := range b.Servers {
		if p.Seen.IsZero() {
			p.Seen = now
		}
		if now.Sub(p.Seen) > maxAge || keep != nil && !keep[name] {
			gone = append(gone, name)
			delete(b.Servers, name)
		}
	}
	slices.Sort(gone)
	return gone
}

// records returns the records of one kind of one server, made if make_.
func (b *Book) records(server string, kind Kind, make_ bool) map[string]*Record {
	if b.Servers == nil {
		if !make_ {
			return nil
		}
		b.Servers = map[string]*Pins{}
	}
	p := b.Servers[server]
	if p == nil {
		if !make_ {
			return nil
		}
		p = &Pins{} // Seen set by see
		b.Servers[server] = p
	}
	m := &p.Tools
	if kind == Prompt {
		m = &p.Prompts
	}
	if *m == nil && make_ {
		*m = map[string]*Record{}
	}
	return *m
}

// Pending is one definition that is not approved, as Book.Pending lists it.
type Pending struct {
	Server string
	Kind   Kind
	Name   string
	*Sighting
}

// Pending returns every definition not approved, by server, kind and
// name; of the named server only if server is not "".
func (b *Book) Pending(server string) []Pending {
	var out []Pending
	for _, sv := range slices.Sorted(maps.Keys(b.Servers)) {
		if server != "" && sv != server {
			continue
		}
		for _, kind := range []Kind{Tool, Prompt} {
			recs := b.records(sv, kind, false)
			for _, name := range slices.Sorted(maps.Keys(recs)) {
				if p := recs[name].Pending; p != nil {
					out = append(out, Pending{sv, kind, name, p})
				}
			}
		}
	}
	return out
}

// Approve approves the pending definitions of server: those named by
// names (a tool's or prompt's upstream name), or every one if names is
// empty. It returns what it approved; a name with nothing pending is an
// error that says what is.
func (b *Book) Approve(server string, names []string, now time.Time) ([]Pending, error) {
	pending := b.Pending(server)
	var out []Pending
	for _, name := range names {
		if !slices.ContainsFunc(pending, func(p Pending) bool { return p.Name == name }) {
			return nil, fmt.Errorf("server %q has no withheld tool or prompt %q%s", server, name, pendingHint(pending))
		}
	}
	for _, p := range pending {
		if len(names) > 0 && !slices.Contains(names, p.Name) {
			continue
		}
		rec := b.records(server, p.Kind, false)[p.Name]
		*rec = Record{Fingerprint: p.Fingerprint, Definition: p.Definition, Trusted: true, Since: now}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("server %q has nothing withheld", server)
	}
	if b.Recovered != nil && !b.anyUnconfirmed() {
		b.Recovered = nil
	}
	return out, nil
}

// anyUnconfirmed reports whether any record is unconfirmed.
func (b *Book) anyUnconfirmed() bool {
	for _, p := range b.Servers {
		for _, recs := range []map[string]*Record{p.Tools, p.Prompts} {
			for _, r := range recs {
				if r.Unconfirmed {
					return true
				}
			}
		}
	}
	return false
}

// pendingHint lists what is pending, for an error.
func pendingHint(pending []Pending) string {
	if len(pending) == 0 {
		return " (it has nothing withheld)"
	}
	names := make([]string, len(pending))
	for i, p := range pending {
		names[i] = p.Name
	}
	return fmt.Sprintf(" (withheld: %s)", strings.Join(slices.Compact(names), ", "))
}

// Absorb takes into b, the book as stored, what mine (a serving
// mcpmux's book) learned: its records of definitions b does not have
// (first sights), and its sightings of those whose approval b and mine
// agree on. An approval in b that mine has not seen yet (mcpmux trust
// wrote it meanwhile) is kept: only mcpmux trust changes what is
// approved, so a record whose approval differs is newer in b. So the
// instances sharing a data directory, and mcpmux trust, write one file
// without dropping each other's news.
func (b *Book) Absorb(mine *Book) {
	for sv, pins := range mine.Servers {
		for _, kind := range []Kind{Tool, Prompt} {
			theirs := pins.Tools
			if kind == Prompt {
				theirs = pins.Prompts
			}
			if len(theirs) == 0 {
				continue
			}
			stored := b.records(sv, kind, true)
			for name, r := range theirs {
				switch cur := stored[name]; {
				case cur == nil:
					cp := *r
					stored[name] = &cp
				case cur.Fingerprint == r.Fingerprint && cur.Trusted == r.Trusted && cur.Unconfirmed == r.Unconfirmed:
					cur.Pending = r.Pending
				}
			}
		}
		if p := b.Servers[sv]; p != nil && pins.Seen.After(p.Seen) {
			p.Seen = pins.Seen
		}
	}
}
