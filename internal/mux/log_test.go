package mux_test

import (
	"io"
	"log/slog"
)

// testLogger logs to w in plain text, at debug level.
func testLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
