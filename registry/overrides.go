package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// overrideKeys are the keys of a tool's override; a prompt's lack
// "annotations", which prompts do not have.
var overrideKeys = []string{"name", "title", "description", "annotations"}

// decodeOverrides decodes the object under field ("toolOverrides" or
// "promptOverrides"): upstream names to the overrides of their entries.
// It is mcpmux's own, so each override may hold only the known keys.
func decodeOverrides(ch *checker, fields map[string]json.RawMessage, field string, known []string) map[string]Override {
	var raws map[string]json.RawMessage
	decodeField(ch, fields, field, &raws, "an object")
	if len(raws) == 0 {
		return nil
	}
	out := make(map[string]Override, len(raws))
	for _, entry := range slices.Sorted(maps.Keys(raws)) {
		at := field + "." + entry
		if entry == "" {
			ch.fail(at, "names no %s: the key must be the upstream's own name", strings.TrimSuffix(field, "Overrides"))
			continue
		}
		var members map[string]json.RawMessage
		decodeValue(ch, at, raws[entry], &members, "an object")
		var o Override
		for _, key := range slices.Sorted(maps.Keys(members)) {
			raw := members[key]
			switch key {
			case "name":
				decodeValue(ch, at+".name", raw, &o.Name, "a string")
			case "title":
				decodeValue(ch, at+".title", raw, &o.Title, "a string")
			case "description":
				decodeValue(ch, at+".description", raw, &o.Description, "a string")
			case "annotations":
				if slices.Contains(known, key) {
					decodeValue(ch, at+".annotations", raw, &o.Annotations, "an object")
					o.Annotations = compactMembers(o.Annotations)
					break
				}
				fallthrough
			default:
				ch.decodeFail(at+"."+key, fmt.Errorf("unknown key (want %s)", strings.Join(known, ", ")))
			}
		}
		out[entry] = o
	}
	return out
}

// compactMembers returns m with its values without white space, as they
// are spliced into the upstream's objects.
func compactMembers(m map[string]json.RawMessage) map[string]json.RawMessage {
	for k, v := range m {
		var b bytes.Buffer
		if json.Compact(&b, v) == nil {
			m[k] = b.Bytes()
		}
	}
	return m
}

// checkOverrides checks the names the overrides under field give: each
// must be a valid exposed name once the server's prefix is before it,
// within the bound of exposed names, and no two entries may get the same.
func (s *Server) checkOverrides(ch *checker, field string, overrides map[string]Override) {
	prefix := s.ExposedPrefix()
	byName := map[string]string{}
	for _, entry := range slices.Sorted(maps.Keys(overrides)) {
		name := overrides[entry].Name
		if name == "" {
			continue
		}
		at := field + "." + entry + ".name"
		exposed := name
		if prefix != "" {
			exposed = prefix + "__" + name
		}
		switch {
		case !validName(name):
			ch.fail(at, "must be 1 to 64 of A-Z a-z 0-9 _ - (the characters every host accepts), got %q", name)
		case len(exposed) > ch.nameBound():
			ch.fail(at, "makes the exposed name %q %d characters long, over the bound of %d (see \"nameLength\"); choose a shorter name or prefix", exposed, len(exposed), ch.nameBound())
		case byName[name] != "":
			ch.fail(at, "is %q, the name %s.%s is given too; two entries cannot share a name", name, field, byName[name])
		default:
			byName[name] = entry
		}
	}
}

// validName reports whether s matches ^[a-zA-Z0-9_-]{1,64}$.
func validName(s string) bool {
	if s == "" || len(s) > MaxNameLength {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
