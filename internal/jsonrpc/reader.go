package jsonrpc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxMessageSize bounds a message when nothing else is configured.
const DefaultMaxMessageSize = 64 << 20

// readBufferSize is the Reader's buffer; lines that fit cost one copy.
const readBufferSize = 64 << 10

// Sizes of what a Reader keeps of a message too large to read.
const (
	headSize = 4 << 10
	tailSize = 256
)

// Reader reads newline-delimited messages, each at most a given size. A
// longer one is skipped without being held in memory, and reported as a
// *[TooLargeError]; the Reader goes on with the next line.
type Reader struct {
	br  *bufio.Reader
	max int
}

// NewReader returns a Reader of r for messages of at most max bytes;
// max <= 0 means [DefaultMaxMessageSize].
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxMessageSize
	}
	return &Reader{br: bufio.NewReaderSize(r, readBufferSize), max: max}
}

// AsTooLarge returns err as a *TooLargeError, or nil if it is not one. It
// costs nothing when err is nil, as it is for nearly every message.
func AsTooLarge(err error) *TooLargeError {
	if err == nil {
		return nil
	}
	var e *TooLargeError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// TooLargeError reports a message longer than the Reader's limit, which
// was skipped. It keeps the message's first and last bytes, where its id
// may be found (see [FindID]).
type TooLargeError struct {
	Size int64 // the message's length in bytes
	Max  int   // the limit
	Head []byte
	Tail []byte
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("a message of %s is larger than the limit, maxMessageSize (%s); it was dropped", FormatSize(e.Size), FormatSize(int64(e.Max)))
}

// ID returns the id of the dropped message, if it can be told from what
// was kept of it; nil otherwise.
func (e *TooLargeError) ID() json.RawMessage {
	if id := FindID(e.Head); id != nil {
		return id
	}
	return findTailID(e.Tail)
}

// FormatSize writes a size in bytes for a person: "64 MB", "1.5 KB", "12 bytes".
func FormatSize(n int64) string {
	const unit = 1 << 10
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	units := []string{"KB", "MB", "GB", "TB"}
	v, i := float64(n)/unit, 0
	for v >= unit && i < len(units)-1 {
		v /= unit
		i++
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), units[i])
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// Next returns the next line that is not blank, without the white space
// around it, in a slice of its own. At the end of the input it returns
// the last line, if it has no newline, and then io.EOF. A line longer than
// the limit is reported as a *TooLargeError, after which Next may be
// called again.
func (r *Reader) Next() ([]byte, error) {
	for {
		line, err := r.readLine()
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			return trimmed, nil // io.EOF, if any, comes again on the next call
		}
		if err != nil {
			return nil, err
		}
	}
}

// readLine reads one line, newline included. A line that does not fit in
// the buffer is collected in pieces and copied once into a slice of its
// exact size.
func (r *Reader) readLine() ([]byte, error) {
	frag, err := r.br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		if len(frag) > r.max+1 {
			return nil, r.tooLarge(nil, frag, int64(len(frag)), err)
		}
		return bytes.Clone(frag), err
	}
	pieces := [][]byte{bytes.Clone(frag)}
	n := int64(len(frag))
	for errors.Is(err, bufio.ErrBufferFull) {
		frag, err = r.br.ReadSlice('\n')
		n += int64(len(frag))
		if n > int64(r.max)+1 {
			return nil, r.tooLarge(pieces, frag, n, err)
		}
		pieces = append(pieces, bytes.Clone(frag))
	}
	line := make([]byte, 0, n)
	for _, p := range pieces {
		line = append(line, p...)
	}
	return line, err
}

// tooLarge skips the rest of a line that is over the limit, of which
// pieces and frag have been read, n bytes in all, and reports it. The
// error of the read that ended the line, if any, is returned instead.
func (r *Reader) tooLarge(pieces [][]byte, frag []byte, n int64, err error) error {
	first := frag
	if len(pieces) > 0 {
		first = pieces[0]
	}
	e := &TooLargeError{Max: r.max, Head: bytes.Clone(first[:min(len(first), headSize)])}
	tail := keepTail(nil, frag)
	for errors.Is(err, bufio.ErrBufferFull) {
		frag, err = r.br.ReadSlice('\n')
		n += int64(len(frag))
		tail = keepTail(tail, frag)
	}
	e.Tail = bytes.TrimRight(tail, " \t\r\n")
	e.Size = n - int64(len(tail)-len(e.Tail)) // the newline is not the message's
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return e
}

// keepTail returns the last tailSize bytes of tail followed by frag.
func keepTail(tail, frag []byte) []byte {
	if len(frag) >= tailSize {
		return append(tail[:0], frag[len(frag)-tailSize:]...)
	}
	tail = append(tail, frag...)
	if over := len(tail) - tailSize; over > 0 {
		tail = append(tail[:0], tail[over:]...)
	}
	return tail
}

// Method returns the method of the dropped message, if it is a request
// or a notification whose method comes early enough to be told; "".
func (e *TooLargeError) Method() string {
	var sp [1]Span
	_ = Scan(e.Head, methodKey, sp[:])
	method, _ := String(sp[0].In(e.Head))
	return method
}

var (
	idKey     = []string{"id"}
	methodKey = []string{"method"}
)

// FindID returns the id of the message whose first bytes are head, if
// its top-level members up to the end of head include a usable id (a
// string or a number); nil otherwise.
func FindID(head []byte) json.RawMessage {
	var sp [1]Span
	_ = Scan(head, idKey, sp[:]) // head is cut short: Scan fails, but keeps what it read
	return usableID(sp[0].In(head))
}

// findTailID returns the id of a message whose last bytes are tail, if
// the message ends with a top-level "id" member: a scalar value right
// before the closing brace can only be a member of the outermost object.
func findTailID(tail []byte) json.RawMessage {
	for i := bytes.LastIndex(tail, []byte(`"id"`)); i >= 0; i = bytes.LastIndex(tail[:i], []byte(`"id"`)) {
		j := skipSpace(tail, i+4)
		if j >= len(tail) || tail[j] != ':' {
			continue
		}
		start := skipSpace(tail, j+1)
		end := skipValue(tail, start)
		if end < 0 || start >= len(tail) || tail[start] == '{' || tail[start] == '[' {
			continue
		}
		if rest := bytes.TrimSpace(tail[end:]); len(rest) == 1 && rest[0] == '}' {
			return usableID(tail[start:end])
		}
	}
	return nil
}

// usableID returns id if it is a valid string or number, else nil.
func usableID(id []byte) json.RawMessage {
	if len(id) == 0 || !json.Valid(id) {
		return nil
	}
	if c := id[0]; c == '"' || c == '-' || ('0' <= c && c <= '9') {
		return bytes.Clone(id)
	}
	return nil
}
