package pin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Kind is what a definition defines: a tool or a prompt.
type Kind string

// The kinds of definitions that are pinned.
const (
	Tool   Kind = "tool"
	Prompt Kind = "prompt"
)

// pinned are the members of a definition that a pin covers, by kind.
// Other members (_meta, icons, execution hints) do not reach the model as
// instructions, change without meaning anything, and are left out.
var pinned = map[Kind][]string{
	Tool:   {"name", "title", "description", "inputSchema", "outputSchema", "annotations"},
	Prompt: {"name", "title", "description", "arguments"},
}

// ErrNotObject is the error of a definition that is not a JSON object.
var ErrNotObject = errors.New("definition is not a JSON object")

// Canonical returns the pinned members of the definition raw (see
// pinned), re-encoded so that what does not change the meaning does not
// change the bytes: object keys sorted, no insignificant whitespace,
// strings with one escaping (\u00e9 and é are one string). Numbers are
// kept as written (1 and 1.0 differ), and array order counts. So an
// upstream that re-encodes its JSON, or sends its keys in another order,
// does not change its fingerprint; a changed word does.
func Canonical(kind Kind, raw json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, ErrNotObject
	}
	kept := make(map[string]any, len(pinned[kind]))
	for _, k := range pinned[kind] {
		if v, ok := obj[k]; ok {
			kept[k] = v
		}
	}
	return encode(kept)
}

// encode encodes v with sorted keys (encoding/json sorts map keys) and
// without HTML escaping, which would change the bytes of "<" and ">".
func encode(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding a definition: %w", err)
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// Fingerprint returns the fingerprint of a canonical definition:
// "sha256:" and the hex of its SHA-256.
func Fingerprint(canonical json.RawMessage) string {
	sum := sha256.Sum256(canonical)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Changes returns the pinned members in which two canonical definitions
// differ, sorted: the short description of a change that the log and
// mcpmux trust --list show. Definitions that do not decode differ in
// "definition".
func Changes(old, new json.RawMessage) []string {
	var a, b map[string]json.RawMessage
	if json.Unmarshal(old, &a) != nil || json.Unmarshal(new, &b) != nil {
		return []string{"definition"}
	}
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if !bytes.Equal(a[k], b[k]) {
			out = append(out, k)
		}
	}
	return out
}
