package upstream

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/internal/testutil"
)

// orderReplier records, in one list with the notifications, the
// responses it is handed.
type orderReplier struct {
	mu  *sync.Mutex
	got *[]string
}

func (r orderReplier) deliver(id json.RawMessage, _ *jsonrpc.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.got = append(*r.got, "response "+string(id))
}

func (orderReplier) answer(json.RawMessage, json.RawMessage, error) {}

// TestResponseFollowsTheNotificationsBeforeIt checks that a response
// reaches its request only after the notifications the upstream sent
// before it have been handed on, however slowly the client takes them:
// the progress of a call must not arrive after the call has ended.
func TestResponseFollowsTheNotificationsBeforeIt(t *testing.T) {
	var mu sync.Mutex
	var got []string
	release := make(chan struct{})
	q := newNoteQueue("a", func(_, method string, params json.RawMessage) {
		<-release // a slow client
		mu.Lock()
		defer mu.Unlock()
		got = append(got, method+" "+string(params))
	}, slog.New(slog.DiscardHandler))
	defer q.stop()
	c := &conn{logger: slog.New(slog.DiscardHandler), notify: q.push, notes: q}
	r := orderReplier{&mu, &got}

	c.dispatch([]byte(`{"jsonrpc":"2.0","id":"mx-1","result":{}}`), r) // nothing queued: at once
	for i := 1; i <= 3; i++ {
		c.dispatch(fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":%d}}`, i), r)
	}
	c.dispatch([]byte(`{"jsonrpc":"2.0","id":"mx-2","result":{}}`), r)
	mu.Lock()
	early := slices.Clone(got)
	mu.Unlock()
	if want := []string{`response "mx-1"`}; !slices.Equal(early, want) {
		t.Errorf("before the client took any notification: %q, want %q", early, want)
	}
	close(release)
	testutil.WaitFor(t, "the queue to empty", q.idle)
	want := []string{
		`response "mx-1"`,
		`notifications/progress {"progressToken":1,"progress":1}`,
		`notifications/progress {"progressToken":1,"progress":2}`,
		`notifications/progress {"progressToken":1,"progress":3}`,
		`response "mx-2"`,
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("handed on %q, want %q", got, want)
	}
}
