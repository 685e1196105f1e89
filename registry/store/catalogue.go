package store

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/mcpmux/mcpmux/registry"
)

// SaveCatalogue stores c as the catalogue of server, replacing any other.
// Every raw message in c must be valid JSON; it is stored byte for byte.
func (s *DB) SaveCatalogue(server string, c registry.Catalogue) error {
	data, err := marshalCatalogue(c)
	if err != nil {
		return fmt.Errorf("saving catalogue of %q: %w", server, err)
	}
	err = s.update(func(txn *badger.Txn) error {
		return txn.Set(makeKey("cat", server), data)
	})
	if err != nil {
		return fmt.Errorf("saving catalogue of %q: %w", server, err)
	}
	return nil
}

// LoadCatalogue returns the catalogue last saved for server, and false if
// there is none.
func (s *DB) LoadCatalogue(server string) (registry.Catalogue, bool, error) {
	var c registry.Catalogue
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(makeKey("cat", server))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &c) })
	})
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return registry.Catalogue{}, false, nil
	case err != nil:
		return registry.Catalogue{}, false, fmt.Errorf("loading catalogue of %q: %w", server, err)
	}
	return c, true, nil
}

// marshalCatalogue encodes c as json.Marshal would, but copies its raw
// messages verbatim: json.Marshal compacts them and escapes HTML in them.
// It must list every field of registry.Catalogue.
func marshalCatalogue(c registry.Catalogue) ([]byte, error) {
	var w rawWriter
	w.str("protocolVersion", c.ProtocolVersion)
	w.raw("serverInfo", c.ServerInfo)
	w.raw("capabilities", c.Capabilities)
	w.str("instructions", c.Instructions)
	w.raws("tools", c.Tools)
	w.raws("prompts", c.Prompts)
	w.raws("resources", c.Resources)
	w.raws("resourceTemplates", c.ResourceTemplates)
	w.raw("clientCapabilities", c.ClientCapabilities)
	w.value("fetched", c.Fetched)
	w.str("fingerprint", c.Fingerprint)
	return w.finish()
}

// rawWriter writes a JSON object field by field. Empty fields are left out.
type rawWriter struct {
	buf []byte
	err error
}

func (w *rawWriter) name(name string) {
	if len(w.buf) == 0 {
		w.buf = append(w.buf, '{')
	} else {
		w.buf = append(w.buf, ',')
	}
	w.buf = append(w.buf, '"')
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, '"', ':')
}

func (w *rawWriter) fail(err error) { w.err = errors.Join(w.err, err) }

func (w *rawWriter) value(name string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		w.fail(fmt.Errorf("encoding %s: %w", name, err))
		return
	}
	w.name(name)
	w.buf = append(w.buf, b...)
}

func (w *rawWriter) str(name, v string) {
	if v != "" {
		w.value(name, v)
	}
}

func (w *rawWriter) raw(name string, m json.RawMessage) {
	if len(m) == 0 {
		return
	}
	w.name(name)
	if !w.appendRaw(m) {
		w.fail(fmt.Errorf("%s is not valid JSON", name))
	}
}

func (w *rawWriter) raws(name string, ms []json.RawMessage) {
	if len(ms) == 0 {
		return
	}
	w.name(name)
	w.buf = append(w.buf, '[')
	for i, m := range ms {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		if !w.appendRaw(m) {
			w.fail(fmt.Errorf("%s[%d] is not valid JSON", name, i))
		}
	}
	w.buf = append(w.buf, ']')
}

// appendRaw appends m, or null if m is empty, and reports whether m was
// valid.
func (w *rawWriter) appendRaw(m json.RawMessage) bool {
	if len(m) == 0 {
		w.buf = append(w.buf, "null"...)
		return true
	}
	if !json.Valid(m) {
		return false
	}
	w.buf = append(w.buf, m...)
	return true
}

func (w *rawWriter) finish() ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	if len(w.buf) == 0 {
		return []byte("{}"), nil
	}
	return append(w.buf, '}'), nil
}
