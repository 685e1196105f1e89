package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lmittmann/tint"

	"github.com/mcpmux/mcpmux/internal/redact"
)

// parseLevel reads a --log-level; "" means info.
func parseLevel(level string) (slog.Level, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.TrimSpace(orString(level, "info")))); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	return lvl, nil
}

// newLogger returns the logger every package gets: tint on stderr, in
// colour only when stderr is a terminal, with m's secrets masked in every
// line (mcp-go's and Badger's, and upstreams' stderr, included). stdout
// is never written to.
func newLogger(stderr io.Writer, lvl slog.Level, m *redact.Masker) *slog.Logger {
	h := tint.NewTextHandler(stderr, &tint.Options{
		Level:      lvl,
		TimeFormat: time.TimeOnly,
		NoColor:    !isTerminal(stderr) || os.Getenv("NO_COLOR") != "", // https://no-color.org
	})
	logger := slog.New(m.Handler(h))
	// mcp-go logs through slog's default logger; keep it on stderr too.
	slog.SetDefault(logger)
	return logger
}

// logWriter returns where the log goes: the --log-file, opened for
// appending (and closed by c.close), or stderr. The file's directory is
// made (0700, as logs may name servers and paths) if it does not exist:
// a host's configuration names a log file before anything has made its
// directory.
func (c *commonFlags) logWriter(stderr io.Writer) (io.Writer, error) {
	if c.logFile == "" {
		return stderr, nil
	}
	if err := os.MkdirAll(filepath.Dir(c.logFile), 0o700); err != nil {
		return nil, fmt.Errorf("--log-file: making its directory: %w", err)
	}
	f, err := os.OpenFile(c.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--log-file: %w", err)
	}
	c.closeLog = func() { f.Close() }
	return f, nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
