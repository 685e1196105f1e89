package redact

import (
	"context"
	"fmt"
	"log/slog"
)

// Handler returns h with every secret masked in each record's message and
// attributes, at every level and however deep in groups: attributes bound
// with WithAttrs, errors and values logged with %v included. A nil Masker
// returns h itself.
func (m *Masker) Handler(h slog.Handler) slog.Handler {
	if m == nil {
		return h
	}
	return &handler{h: h, m: m}
}

type handler struct {
	h slog.Handler
	m *Masker
}

var _ slog.Handler = (*handler)(nil)

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if h.m.replacer() == nil {
		return h.h.Handle(ctx, r) // no secret yet (see Growable)
	}
	out := slog.NewRecord(r.Time, r.Level, h.m.String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.m.attr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = h.m.attr(a)
	}
	return &handler{h: h.h.WithAttrs(masked), m: h.m}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{h: h.h.WithGroup(name), m: h.m}
}

// attr masks the text of a, whatever its kind. A value that holds no
// secret is kept as it is, so that its handler formats it as usual.
func (m *Masker) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, m.String(v.String()))
	case slog.KindGroup:
		group := v.Group()
		masked := make([]slog.Attr, len(group))
		for i, g := range group {
			masked[i] = m.attr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(masked...)}
	case slog.KindAny:
		var text string
		if err, ok := v.Any().(error); ok {
			text = err.Error()
		} else {
			text = fmt.Sprint(v.Any())
		}
		if masked := m.String(text); masked != text {
			return slog.String(a.Key, masked)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
