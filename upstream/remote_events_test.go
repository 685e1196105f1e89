package upstream

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestEventReader(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		want   []string // name + " " + data of each event
		err    error    // at the end
		lastID string
		retry  time.Duration
	}{
		{"one message", "data: {}\n\n", []string{"message {}"}, io.EOF, "", 0},
		{"named, CRLF", "event: endpoint\r\ndata: /m?s=1\r\n\r\n", []string{"endpoint /m?s=1"}, io.EOF, "", 0},
		{"data lines joined", "data: {\"a\":\ndata:  1}\n\n", []string{"message {\"a\":\n 1}"}, io.EOF, "", 0},
		{"comments and unknown fields skipped", ": keep-alive\nfoo: bar\ndata: x\n\n", []string{"message x"}, io.EOF, "", 0},
		{"no data, no event", "id: 1\ndata: \n\nevent: x\n\n", []string{"message "}, io.EOF, "1", 0},
		{"id set on dispatch", "id: a\ndata: 1\n\nid: b\ndata: 2\n\n", []string{"message 1", "message 2"}, io.EOF, "b", 0},
		{"id with NUL ignored", "id: a\n\nid: b\x00c\n\n", nil, io.EOF, "a", 0},
		{"retry", "retry: 1500\nretry: x\n\n", nil, io.EOF, "", 1500 * time.Millisecond},
		{"unfinished event dropped", "data: 1\n\ndata: 2\n", []string{"message 1"}, io.ErrUnexpectedEOF, "", 0},
		{"unfinished line dropped", "data: 1\n\ndata: 2", []string{"message 1"}, io.ErrUnexpectedEOF, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			er := newEventReader(strings.NewReader(tt.stream), 0)
			var got []string
			var err error
			for {
				var ev event
				if ev, err = er.next(); err != nil {
					break
				}
				got = append(got, ev.name+" "+string(ev.data))
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || !errors.Is(err, tt.err) {
				t.Errorf("events = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
			if er.lastID != tt.lastID || er.retry != tt.retry {
				t.Errorf("last id %q, retry %s; want %q, %s", er.lastID, er.retry, tt.lastID, tt.retry)
			}
		})
	}
}

// TestEventReaderSkipsTooLarge: an event whose data is over the limit is
// skipped, but for its size and its first and last bytes, where its id
// may be, and the stream goes on.
func TestEventReaderSkipsTooLarge(t *testing.T) {
	const max = 1024
	big := `{"jsonrpc":"2.0","id":"mx-7","result":{"text":"` + strings.Repeat("x", 3*max) + `"}}`
	for _, tt := range []struct {
		name, data string // the event's data lines
	}{
		{"one long line", "data: " + big + "\n"},
		{"many lines", "data: " + big[:600] + "\ndata: " + big[600:1200] + "\ndata: " + big[1200:] + "\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stream := "id: 1\n" + tt.data + "\ndata: next\n\n"
			er := newEventReader(strings.NewReader(stream), max)
			ev, err := er.next()
			if err != nil || ev.tooLarge == nil {
				t.Fatalf("next() = %+v, %v; want the event dropped as too large", ev, err)
			}
			e := ev.tooLarge
			wantSize := int64(len(big))
			if tt.name == "many lines" {
				wantSize += 2 // the line feeds that join its lines
			}
			if e.Size != wantSize || e.Max != max || string(e.ID()) != `"mx-7"` || !strings.HasSuffix(string(e.Tail), `"}}`) {
				t.Errorf("too large: size %d, max %d, id %s, tail %q; want %d, %d, \"mx-7\", the message's end", e.Size, e.Max, e.ID(), e.Tail, wantSize, max)
			}
			if er.lastID != "1" {
				t.Errorf("last id = %q, want the dropped event's", er.lastID)
			}
			if ev, err := er.next(); err != nil || string(ev.data) != "next" {
				t.Errorf("after it: %q, %v; want the next event", ev.data, err)
			}
		})
	}
}
