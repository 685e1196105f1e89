package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// redacted replaces a secret, as in registry.Server's LogValue.
const redacted = "REDACTED"

// secrets hides what a remote server's URL carries that must not reach a
// log line or an error message: its password and its query values, which
// mcp-go's and net/http's errors quote. (Header values get nowhere near
// either: nothing logs them.)
type secrets struct{ r *strings.Replacer }

func newSecrets(rawURL string) secrets {
	u, err := url.Parse(rawURL)
	if err != nil {
		return secrets{strings.NewReplacer(rawURL, redacted)} // cannot tell the secret parts
	}
	var pairs []string
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{redacted}
		}
		pairs = append(pairs, u.RawQuery, q.Encode())
	}
	if p, ok := u.User.Password(); ok && p != "" {
		pairs = append(pairs, p, redacted)
	}
	return secrets{strings.NewReplacer(pairs...)}
}

func (s secrets) hide(text string) string { return s.r.Replace(text) }

// hideErr returns err with its text hidden; errors.Is and errors.As see
// through it.
func (s secrets) hideErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if hidden := s.hide(msg); hidden != msg {
		return &hiddenError{msg: hidden, err: err}
	}
	return err
}

type hiddenError struct {
	msg string
	err error
}

func (e *hiddenError) Error() string { return e.msg }
func (e *hiddenError) Unwrap() error { return e.err }

// transportLog is the slog.Handler of mcp-go's remote transports. It
// lowers every record to debug, because mcp-go logs at error level what
// mcpmux handles (a retry loop while a server is down, say), and it hides
// the URL's secrets in the message and in every attribute.
type transportLog struct {
	h       slog.Handler
	secrets secrets
}

func (t transportLog) Enabled(ctx context.Context, _ slog.Level) bool {
	return t.h.Enabled(ctx, slog.LevelDebug)
}

func (t transportLog) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, slog.LevelDebug, "mcp-go: "+t.secrets.hide(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(t.attr(a))
		return true
	})
	return t.h.Handle(ctx, out)
}

func (t transportLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	hidden := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		hidden[i] = t.attr(a)
	}
	return transportLog{t.h.WithAttrs(hidden), t.secrets}
}

func (t transportLog) WithGroup(name string) slog.Handler {
	return transportLog{t.h.WithGroup(name), t.secrets}
}

// attr hides secrets in the text of a, whatever its kind.
func (t transportLog) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		group := v.Group()
		hidden := make([]any, len(group))
		for i, g := range group {
			hidden[i] = t.attr(g)
		}
		return slog.Group(a.Key, hidden...)
	case slog.KindString, slog.KindAny:
		return slog.String(a.Key, t.secrets.hide(fmt.Sprint(v.Any())))
	}
	return slog.Attr{Key: a.Key, Value: v}
}
