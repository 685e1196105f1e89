package upstream

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// What an eventReader keeps of an event too large to read: its first and
// last bytes, where its id may be found (see jsonrpc.TooLargeError).
const (
	keptHead = 4 << 10
	keptTail = 256
)

// event is one event of a server-sent event stream.
type event struct {
	name string // "message" unless the server named it
	data []byte
	// tooLarge, if set, stands for an event whose data was larger than
	// the reader's limit, which was dropped; data is nil.
	tooLarge *jsonrpc.TooLargeError
}

// eventReader reads a server-sent event stream, as the HTML standard
// defines it (https://html.spec.whatwg.org/multipage/server-sent-events.html),
// except that lines must end in LF or CRLF, not in a lone CR. The data of
// one event is at most max bytes; a larger event is skipped without being
// held in memory. It remembers the last event id and the reconnection time
// the server asked for, which resuming the stream needs.
type eventReader struct {
	r   *bufio.Reader
	max int

	lastID   string        // the last event id the stream set
	retry    time.Duration // the reconnection time the server asked for
	hasRetry bool
}

// newEventReader returns a reader of r for events of at most max bytes of
// data; max <= 0 means jsonrpc.DefaultMaxMessageSize.
func newEventReader(r io.Reader, max int) *eventReader {
	if max <= 0 {
		max = jsonrpc.DefaultMaxMessageSize
	}
	return &eventReader{r: bufio.NewReaderSize(r, 32<<10), max: max}
}

// pending is the event next is reading.
type pending struct {
	name    string
	data    bytes.Buffer
	hasData bool
	id      *string
	// Of data too large: its size so far, and its first and last bytes.
	over       bool
	size       int64
	head, tail []byte
}

// add appends one data line to the event, or, once the event is too
// large, counts it and keeps its first and last bytes.
func (p *pending) add(l line, max int) {
	p.hasData = true
	n := l.size + 1 // the line feed that joins data lines
	if !p.over && !l.long && int64(p.data.Len())+n <= int64(max)+1 {
		p.data.Write(l.text)
		p.data.WriteByte('\n')
		return
	}
	if !p.over { // it is too large from now on
		p.over = true
		p.size = int64(p.data.Len())
		p.head = append([]byte(nil), p.data.Bytes()[:min(p.data.Len(), keptHead)]...)
		p.tail = keepLast(nil, p.data.Bytes(), keptTail)
		p.data.Reset()
	}
	if len(p.head) < keptHead {
		p.head = append(p.head, l.head[:min(len(l.head), keptHead-len(p.head))]...)
	}
	p.tail = keepLast(p.tail, l.tail, keptTail)
	p.size += n
}

// next returns the next event with data. At the end of the stream it
// returns io.EOF if the server ended it where an event ends, and
// io.ErrUnexpectedEOF if it ended inside an event; any other error is the
// connection's.
func (er *eventReader) next() (event, error) {
	var p pending
	for {
		l, err := er.line()
		switch {
		case errors.Is(err, io.EOF) && !p.hasData && p.name == "" && p.id == nil:
			return event{}, io.EOF
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return event{}, io.ErrUnexpectedEOF // an unfinished event is dropped
		case err != nil:
			return event{}, err
		}
		if l.size == 0 { // dispatch
			if p.id != nil {
				er.lastID = *p.id
			}
			if ev, ok := p.event(er.max); ok {
				return ev, nil
			}
			p = pending{}
			continue
		}
		field, value := l.field()
		switch field {
		case "event":
			p.name = string(value.text)
		case "data":
			p.add(value, er.max)
		case "id":
			if !value.long && bytes.IndexByte(value.text, 0) < 0 {
				s := string(value.text)
				p.id = &s
			}
		case "retry":
			if ms, err := strconv.ParseUint(string(value.text), 10, 32); err == nil { // digits only
				er.retry, er.hasRetry = time.Duration(ms)*time.Millisecond, true
			}
		}
		// A line starting with a colon is a comment: its field is empty.
	}
}

// event returns the event p has read, if it has data.
func (p *pending) event(max int) (event, bool) {
	if !p.hasData {
		return event{}, false
	}
	name := p.name
	if name == "" {
		name = "message"
	}
	if p.over {
		return event{name: name, tooLarge: &jsonrpc.TooLargeError{
			Size: p.size - 1, Max: max, Head: p.head, Tail: bytes.TrimRight(p.tail, "\n"),
		}}, true
	}
	return event{name: name, data: bytes.TrimSuffix(p.data.Bytes(), []byte("\n"))}, true
}

// line is one line of the stream without its line ending: its text, or,
// if it is longer than the reader's limit, its size and its first and
// last bytes.
type line struct {
	text       []byte // nil if the line is too long
	long       bool
	size       int64
	head, tail []byte // of text, or of the line too long
}

// field splits a line into its field name and value, without the one
// space after the colon. A long line's name must be in its head.
func (l line) field() (string, line) {
	src := l.text
	if l.long {
		src = l.head
	}
	name, _, _ := bytes.Cut(src, []byte(":"))
	skip := len(name) + 1
	if skip < len(src) && src[skip] == ' ' {
		skip++
	}
	skip = min(skip, len(src))
	v := line{long: l.long, size: max(l.size-int64(skip), 0), tail: l.tail}
	if l.long {
		v.head = l.head[skip:]
	} else {
		v.text = l.text[skip:]
		v.head, v.tail = v.text, v.text
	}
	return string(name), v
}

// line reads the next line. A line longer than the reader's limit is
// skipped, but for what line keeps of it.
func (er *eventReader) line() (line, error) {
	var l line
	var buf bytes.Buffer
	for {
		chunk, err := er.r.ReadSlice('\n')
		full := errors.Is(err, bufio.ErrBufferFull)
		if err != nil && !full {
			if errors.Is(err, io.EOF) && l.size+int64(len(chunk)) > 0 {
				return line{}, io.ErrUnexpectedEOF // a last line without its ending counts for nothing
			}
			return line{}, err
		}
		if !full {
			chunk = bytes.TrimSuffix(bytes.TrimSuffix(chunk, []byte("\n")), []byte("\r"))
		}
		l.size += int64(len(chunk))
		switch {
		case l.size <= int64(er.max)+1:
			buf.Write(chunk)
		case !l.long:
			l.long = true
			l.head = append([]byte(nil), buf.Bytes()[:min(buf.Len(), keptHead)]...)
			l.tail = keepLast(nil, buf.Bytes(), keptTail)
			buf.Reset()
			fallthrough
		default:
			if len(l.head) < keptHead {
				l.head = append(l.head, chunk[:min(len(chunk), keptHead-len(l.head))]...)
			}
			l.tail = keepLast(l.tail, chunk, keptTail)
		}
		if !full {
			if !l.long {
				l.text = buf.Bytes()
				l.head, l.tail = l.text, l.text
			}
			return l, nil
		}
	}
}

// keepLast returns the last n bytes of kept followed by b.
func keepLast(kept, b []byte, n int) []byte {
	if len(b) >= n {
		return append(kept[:0], b[len(b)-n:]...)
	}
	kept = append(kept, b...)
	if over := len(kept) - n; over > 0 {
		kept = append(kept[:0], kept[over:]...)
	}
	return kept
}
