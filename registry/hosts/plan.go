package hosts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcpmux/mcpmux/internal/atomicfile"
	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// Kind is what import does with one entry.
type Kind string

const (
	Add   Kind = "add"   // not in the configuration: added
	Same  Kind = "same"  // in the configuration already, as it is
	Clash Kind = "clash" // the name is taken by another entry: left out
	Self  Kind = "self"  // the entry is mcpmux itself: never imported
)

// Change is what import does with one entry of a host.
type Change struct {
	Kind  Kind
	Entry Entry
	// Other is where the entry that Clash clashes with comes from: the
	// configuration's own, or an earlier host's file.
	Other string
}

// Plan is the merge of host entries into an mcpmux configuration.
type Plan struct {
	// Config is the configuration file, absolute.
	Config  string
	Changes []Change
	// result is the configuration with the added entries; nil if none.
	result []byte
}

// NewPlan merges entries, in order, into the configuration at config,
// which may not exist yet. An entry whose name is taken (by the
// configuration, or by an earlier entry) is a Clash unless it is the same
// entry; an entry that starts mcpmux (see [IsMcpmux], self is mcpmux's
// executable) is left out.
func NewPlan(config string, entries []Entry, self string) (*Plan, error) {
	abs, err := filepath.Abs(config)
	if err != nil {
		return nil, err
	}
	p := &Plan{Config: abs}
	data, err := readFile(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		data = []byte(`{"mcpServers": {}}`)
	case err != nil:
		return nil, err
	}
	key := serversKey(data)
	servers, err := serversObject(data, File{Path: abs, Key: key})
	if err != nil {
		return nil, err
	}
	if servers == nil {
		servers = json.RawMessage(`{}`)
	}
	var have map[string]json.RawMessage
	if err := json.Unmarshal(servers, &have); err != nil {
		return nil, fmt.Errorf("%s: %w", abs, err)
	}
	from := make(map[string]string, len(have))
	for name := range have {
		from[name] = "the mcpmux configuration"
	}
	var added []Entry
	for _, e := range entries {
		switch old, taken := have[e.Name]; {
		case IsMcpmux(e.Raw, self):
			p.Changes = append(p.Changes, Change{Kind: Self, Entry: e})
		case taken && sameJSON(old, e.Raw):
			p.Changes = append(p.Changes, Change{Kind: Same, Entry: e, Other: from[e.Name]})
		case taken:
			p.Changes = append(p.Changes, Change{Kind: Clash, Entry: e, Other: from[e.Name]})
		default:
			have[e.Name], from[e.Name] = e.Raw, e.From.Path
			added = append(added, e)
			p.Changes = append(p.Changes, Change{Kind: Add, Entry: e})
		}
	}
	if len(added) > 0 {
		if p.result, err = insert(data, key, servers, added); err != nil {
			return nil, fmt.Errorf("merging into %s: %w", abs, err)
		}
	}
	return p, nil
}

// serversKey is the key of the servers object of an mcpmux
// configuration: "mcpServers", or VS Code's "servers" in a file that has
// only that.
func serversKey(data []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) == nil {
		if _, ok := top["mcpServers"]; !ok {
			if _, ok := top["servers"]; ok {
				return "servers"
			}
		}
	}
	return "mcpServers"
}

// insert returns data with entries added to its servers object, every
// other member kept, indented anew.
func insert(data []byte, key string, servers json.RawMessage, entries []Entry) ([]byte, error) {
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b Entry) int { return strings.Compare(b.Name, a.Name) })
	obj := []byte(servers)
	for _, e := range sorted { // each goes first: the last inserted, the first name
		var err error
		if obj, err = jsonrpc.Set(obj, e.Name, e.Raw); err != nil {
			return nil, err
		}
	}
	top, err := jsonrpc.Set(data, key, obj)
	if err != nil {
		return nil, err
	}
	return indent(top)
}

func indent(data []byte) ([]byte, error) {
	var compact, out bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return nil, err
	}
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// sameJSON reports whether a and b are the same JSON value, whatever
// their spacing and key order.
func sameJSON(a, b json.RawMessage) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ca, _ := json.Marshal(va)
	cb, _ := json.Marshal(vb)
	return bytes.Equal(ca, cb)
}

// Count returns how many changes are of kind k.
func (p *Plan) Count(k Kind) int {
	n := 0
	for _, c := range p.Changes {
		if c.Kind == k {
			n++
		}
	}
	return n
}

// Result returns the configuration file as Apply would write it; nil if
// nothing is added.
func (p *Plan) Result() []byte { return p.result }

// Apply writes the merged configuration, if anything is added, replacing
// the file at once (a reader sees the old file or the new, never half),
// with the old file's mode or 0600.
func (p *Plan) Apply() error {
	if p.result == nil {
		return nil
	}
	return writeAtomic(p.Config, p.result)
}

// writeAtomic replaces path with data, keeping its mode (0600 for a new
// file), synced: a host's configuration is the user's, and nothing can
// rebuild it.
func writeAtomic(path string, data []byte) error {
	mode := fs.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	return atomicfile.WriteSync(path, data, mode)
}
