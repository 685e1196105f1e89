package upstream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"time"
)

// Bounds of what a child's stderr puts in mcpmux's log.
const (
	// stderrBurst lines may be logged at once; after that, stderrRate a
	// second. A child that writes more has the rest counted, and the count
	// logged when lines may be logged again.
	stderrBurst = 50
	stderrRate  = 10
	// maxStderrLine bounds one logged line, in bytes; the rest is cut,
	// with a note of how much.
	maxStderrLine = 2048
)

// stderrLog logs the lines of one child's stderr at the server's level
// ("logStderr", default debug: servers write all sorts there), no more
// than stderrRate a second after a burst. It is used by one goroutine.
type stderrLog struct {
	logger *slog.Logger
	level  slog.Level
	now    func() time.Time

	tokens  float64
	last    time.Time
	dropped int
}

func newStderrLog(logger *slog.Logger, level string, now func() time.Time) *stderrLog {
	lvl := slog.LevelDebug
	if level != "" {
		_ = lvl.UnmarshalText([]byte(level)) // registry checked it
	}
	return &stderrLog{logger: logger, level: lvl, now: now, tokens: stderrBurst}
}

// log logs one line, cut bytes of which were left out, unless the rate
// is exceeded.
func (l *stderrLog) log(line string, cut int) {
	ctx := context.Background()
	if !l.logger.Enabled(ctx, l.level) {
		return
	}
	now := l.now()
	if !l.last.IsZero() {
		l.tokens = min(stderrBurst, l.tokens+now.Sub(l.last).Seconds()*stderrRate)
	}
	l.last = now
	if l.tokens < 1 {
		l.dropped++
		return
	}
	l.tokens--
	l.flush()
	if cut > 0 {
		l.logger.Log(ctx, l.level, "upstream stderr", "line", line, "cut", cutNote(cut))
		return
	}
	l.logger.Log(ctx, l.level, "upstream stderr", "line", line)
}

// flush logs how many lines were dropped since the last logged one.
func (l *stderrLog) flush() {
	if l.dropped > 0 {
		l.logger.Log(context.Background(), l.level, "upstream stderr lines not logged: too many", "dropped", l.dropped,
			"limit", "10 lines a second")
		l.dropped = 0
	}
}

func cutNote(n int) string { return strconv.Itoa(n) + " more bytes cut" }

// readLines calls line with each line of r, without its end, cut to
// maxStderrLine bytes, with how many bytes were cut; lines of any length
// cost at most the reader's buffer.
func readLines(r io.Reader, line func(text []byte, cut int)) {
	br := bufio.NewReaderSize(r, 16<<10)
	var cur []byte
	cut := 0
	for {
		seg, err := br.ReadSlice('\n')
		full := errors.Is(err, bufio.ErrBufferFull)
		if !full {
			seg = bytes.TrimSuffix(seg, []byte("\n"))
		}
		if room := maxStderrLine - len(cur); len(seg) > room {
			cut += len(seg) - room
			seg = seg[:room]
		}
		cur = append(cur, seg...)
		if full {
			continue
		}
		if text := bytes.TrimSpace(cur); len(text) > 0 {
			line(text, cut)
		}
		cur, cut = cur[:0], 0
		if err != nil {
			return
		}
	}
}
