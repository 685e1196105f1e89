package redact

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	m := New([]string{"ghp_secret123", "secret", "Bearer ghp_secret123", "", `quo"te<&>`})
	tests := map[string]string{
		"token ghp_secret123 here":             "token *** here",
		"Authorization: Bearer ghp_secret123!": "Authorization: ***!",
		"a secret, another secret":             "a ***, another ***",
		"nothing to hide":                      "nothing to hide",
		`json: "quo\"te<&>"`:                   `json: "***"`,
		`html: "quo\"te\u003c\u0026\u003e"`:    `html: "***"`,
		`plain quo"te<&>`:                      `plain ***`,
	}
	for in, want := range tests {
		if got := m.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	var none *Masker
	if got := none.String("secret"); got != "secret" {
		t.Errorf("nil Masker changed %q to %q", "secret", got)
	}
	if New(nil) != nil || New([]string{""}) != nil {
		t.Error("New of no secrets is not nil")
	}
}

func TestJSON(t *testing.T) {
	m := New([]string{"tok123456", `a","b`})
	for raw, want := range map[string]string{
		`{"lastError":"auth tok123456 failed","n":1}`: `{"lastError":"auth *** failed","n":1}`,
		`{"x":"nothing"}`:            `{"x":"nothing"}`,
		`{"x":"a","b":1}`:            `{"x":"a","b":1}`, // the raw form would break the object: strings are masked one by one
		`{"e":"a\",\"b"}`:            `{"e":"***"}`,
		`{"k":12345678901234567890}`: `{"k":12345678901234567890}`,
	} {
		got := m.JSON(json.RawMessage(raw))
		if !json.Valid(got) {
			t.Errorf("JSON(%s) = %s, not valid", raw, got)
		}
		var g, w any
		_ = json.Unmarshal(got, &g)
		_ = json.Unmarshal([]byte(want), &w)
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("JSON(%s) = %s, want %s", raw, got, want)
		}
	}
}

func TestError(t *testing.T) {
	m := New([]string{"tok123456"})
	base := fmt.Errorf("reading with tok123456: %w", fs.ErrNotExist)
	err := m.Error(base)
	if err.Error() != "reading with ***: file does not exist" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Error(%v) = %v (Is ErrNotExist: %v)", base, err, errors.Is(err, fs.ErrNotExist))
	}
	if clean := errors.New("clean"); m.Error(clean) != clean {
		t.Error("Error wrapped an error without secrets")
	}
}

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	m := New([]string{"tok123456", "pw-secret"})
	logger := slog.New(m.Handler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	logger = logger.With("bound", "tok123456")
	logger.Debug("upstream stderr: tok123456", "line", "TOKEN=tok123456",
		"err", fmt.Errorf("dial user:pw-secret@host: refused"),
		"any", []string{"x", "pw-secret"}, "stringer", stringer{"tok123456"}, "n", 42,
		slog.Group("g", "inner", "pw-secret", slog.Group("deeper", "x", "tok123456")))
	logger.WithGroup("grp").Info("m", "k", "tok123456")
	out := buf.String()
	if strings.Contains(out, "tok123456") || strings.Contains(out, "pw-secret") {
		t.Errorf("a secret reached the log:\n%s", out)
	}
	for _, want := range []string{"msg=\"upstream stderr: ***\"", `line="TOKEN=***"`, "bound=***", "n=42", "g.deeper.x=***", "grp.k=***"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestAdd(t *testing.T) {
	m := Growable(nil)
	if got := m.String("token abcdef"); got != "token abcdef" {
		t.Errorf("empty Growable().String = %q, want it unchanged", got)
	}
	logged := new(strings.Builder)
	logger := slog.New(m.Handler(slog.NewTextHandler(logged, nil)))
	m.Add([]string{"abcdef"})
	m.Add([]string{"ghijkl", ""})
	logger.Info("secrets", "a", "abcdef", "b", `"ghijkl"`)
	if got := logged.String(); strings.Contains(got, "abcdef") || strings.Contains(got, "ghijkl") || strings.Count(got, Mask) != 2 {
		t.Errorf("a handler made before Add logged %q, want both secrets masked", got)
	}
}
