// Package redact masks secrets in what mcpmux writes: every configured
// secret (see registry.Server.SecretValues) is replaced by [Mask] wherever
// it appears, in plain text and as JSON writes it. A [Masker] is applied
// where text leaves mcpmux for anywhere but the upstream the secret
// belongs to: the log (see [Masker.Handler]), errors sent to the client,
// the status resource, the store, and the output of status and history.
package redact

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// Mask stands in for a secret.
const Mask = "***"

// Masker replaces secrets with [Mask]. A nil Masker masks nothing. It is
// safe for concurrent use, [Masker.Add] included.
type Masker struct {
	r atomic.Pointer[strings.Replacer] // nil while there is no secret

	mu    sync.Mutex // serialises Add
	forms []string   // every form of every secret, guarded by mu
}

// New returns a Masker of secrets. Each is also masked as JSON writes it
// inside a string (with its quotes and backslashes escaped, and < > &
// too, as encoding/json escapes them by default). Where one secret
// contains another, the longer is masked whole. Empty strings are
// ignored; New returns nil if nothing is left.
func New(secrets []string) *Masker {
	m := Growable(secrets)
	if m.r.Load() == nil {
		return nil
	}
	return m
}

// Growable is New, but never nil, so that secrets can be added later with
// Add: a configuration reloaded while mcpmux runs brings new ones.
func Growable(secrets []string) *Masker {
	m := &Masker{}
	m.Add(secrets)
	return m
}

// Add masks secrets too, from now on, in everything m masks, and keeps
// masking the ones it had: text written before a reload may still be
// quoted after it.
func (m *Masker) Add(secrets []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	forms := slices.Clone(m.forms)
	for _, s := range secrets {
		if s == "" {
			continue
		}
		forms = append(forms, s, inJSON(jsonrpc.Quote(s)))
		if html, err := json.Marshal(s); err == nil {
			forms = append(forms, inJSON(html))
		}
	}
	// strings.Replacer tries its patterns in the order given at each
	// position: longest first masks a secret whole rather than the shorter
	// secret inside it.
	slices.SortFunc(forms, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	forms = slices.Compact(forms)
	if len(forms) == 0 || slices.Equal(forms, m.forms) {
		return
	}
	m.forms = forms
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, Mask)
	}
	m.r.Store(strings.NewReplacer(pairs...))
}

// replacer returns m's replacer, nil if m masks nothing.
func (m *Masker) replacer() *strings.Replacer {
	if m == nil {
		return nil
	}
	return m.r.Load()
}

// inJSON returns a JSON string's inside, without its quotes.
func inJSON(quoted []byte) string { return string(quoted[1 : len(quoted)-1]) }

// String returns s with every secret masked.
func (m *Masker) String(s string) string {
	r := m.replacer()
	if r == nil {
		return s
	}
	return r.Replace(s)
}

// Bytes returns b with every secret masked: b itself if it holds none.
func (m *Masker) Bytes(b []byte) []byte {
	r := m.replacer()
	if r == nil {
		return b
	}
	s := string(b)
	if out := r.Replace(s); out != s {
		return []byte(out)
	}
	return b
}

// JSON returns the JSON value raw with every secret in it masked, still
// valid JSON: if masking the text would break it (a secret that spans a
// string's end), the value is decoded and each string masked instead.
func (m *Masker) JSON(raw json.RawMessage) json.RawMessage {
	out := m.Bytes(raw)
	if bytes.Equal(out, raw) || json.Valid(out) {
		return out
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return json.RawMessage("null")
	}
	out, err := json.Marshal(m.value(v))
	if err != nil {
		return json.RawMessage("null")
	}
	return out
}

// value masks the strings of a decoded JSON value, keys included.
func (m *Masker) value(v any) any {
	switch v := v.(type) {
	case string:
		return m.String(v)
	case []any:
		for i := range v {
			v[i] = m.value(v[i])
		}
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[m.String(k)] = m.value(e)
		}
		return out
	}
	return v
}

// Error returns err with its text masked; errors.Is and errors.As see
// through it. It returns err itself if its text holds no secret.
func (m *Masker) Error(err error) error {
	if m == nil || err == nil {
		return err
	}
	msg := err.Error()
	if masked := m.String(msg); masked != msg {
		return &maskedError{msg: masked, err: err}
	}
	return err
}

type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.err }
