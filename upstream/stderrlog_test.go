package upstream

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A child that writes a flood to stderr has stderrBurst lines logged, the
// rest counted, and the count logged when lines may be logged again.
func TestStderrLogRateLimit(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	now := time.Unix(1000, 0)
	l := newStderrLog(logger, "", func() time.Time { return now })
	for i := range 1000 {
		l.log("line "+itoaTest(i), 0)
	}
	if n := strings.Count(buf.String(), `msg="upstream stderr"`); n != stderrBurst {
		t.Errorf("logged %d of 1000 lines at once, want %d", n, stderrBurst)
	}
	now = now.Add(time.Second)
	l.log("after a second", 0)
	if !strings.Contains(buf.String(), "dropped=950") || !strings.Contains(buf.String(), `line="after a second"`) {
		t.Errorf("after a second the log holds\n%s\nwant the count of dropped lines and the new line", buf.String())
	}
	if !strings.Contains(buf.String(), "level=DEBUG") || strings.Contains(buf.String(), "level=INFO") {
		t.Errorf("stderr logged at another level than debug:\n%s", buf.String())
	}
}

// "logStderr": "info" raises the level.
func TestStderrLogLevel(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	newStderrLog(logger, "", time.Now).log("hidden", 0)
	newStderrLog(logger, "info", time.Now).log("shown", 0)
	if got := buf.String(); strings.Contains(got, "hidden") || !strings.Contains(got, `line=shown`) || !strings.Contains(got, "level=INFO") {
		t.Errorf("log = %q, want only the info line", got)
	}
}

// Lines longer than maxStderrLine are cut, with a note of how much; the
// next line is whole.
func TestReadLinesCutsLongLines(t *testing.T) {
	long := strings.Repeat("x", 100_000)
	in := "short\n" + long + "\n\n  \nlast without newline"
	type got struct {
		text string
		cut  int
	}
	var lines []got
	readLines(strings.NewReader(in), func(text []byte, cut int) { lines = append(lines, got{string(text), cut}) })
	want := []got{{"short", 0}, {long[:maxStderrLine], 100_000 - maxStderrLine}, {"last without newline", 0}}
	if len(lines) != len(want) {
		t.Fatalf("readLines gave %d lines, want %d", len(lines), len(want))
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d = %.20q (cut %d), want %.20q (cut %d)", i, lines[i].text, lines[i].cut, want[i].text, want[i].cut)
		}
	}
}

func itoaTest(i int) string { return strings.Repeat("n", i%7) }
