package upstream

import (
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/registry"
)

// recordingReplier keeps what dispatch hands on.
type recordingReplier struct {
	mu        sync.Mutex
	delivered []json.RawMessage // ids
	answers   [][]byte          // encoded answers to the upstream
}

func (r *recordingReplier) deliver(id json.RawMessage, resp *jsonrpc.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delivered = append(r.delivered, id)
	if resp.Result != nil && !json.Valid(resp.Result) {
		panic("a result that is not JSON was delivered: " + string(resp.Result))
	}
}

func (r *recordingReplier) answer(id, result json.RawMessage, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers = append(r.answers, answerMessage(id, result, err))
}

// FuzzDispatch feeds the upstream line router what an upstream may write.
// Whatever it is: nothing panics; a notification is passed on only if
// mcpmux and the client would read its routed members alike; responses
// are delivered only for string or number ids; every answer to the
// upstream is a valid JSON-RPC response.
func FuzzDispatch(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":"mx-1","result":{"content":[]}}`,
		`{"jsonrpc":"2.0","id":"mx-1","error":{"code":-32601,"message":"no","data":{"a":9007199254740993}}}`,
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}`,
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progressToken":2}}`,
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"ProgressToken":2}}`,
		`{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"a","URI":"b"}}`,
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9007199254740993}}`,
		`{"jsonrpc":"2.0","id":9007199254740993,"method":"sampling/createMessage","params":{}}`,
		`{"jsonrpc":"2.0","id":7,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":{},"method":"ping"}`,
		`{"jsonrpc":"2.0","id":"mx-1","id":"mx-2","result":{}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, `{}`, `null`, `not json`,
	} {
		f.Add([]byte(s))
	}
	c := newConn(nil, nil, &registry.Server{Name: "fuzz"}, &Options{Logger: slog.New(slog.DiscardHandler)}, nil)
	var notified [][]byte
	c.notify = func(method string, params json.RawMessage) {
		notified = append(notified, params)
	}
	defer c.endLife()
	f.Fuzz(func(t *testing.T, line []byte) {
		r := &recordingReplier{}
		notified = nil
		c.dispatch(line, r)
		for _, params := range notified {
			var sp [5]jsonrpc.Span
			if err := jsonrpc.Scan(params, notificationKeys, sp[:]); err != nil && params != nil && !errors.Is(err, jsonrpc.ErrNotObject) {
				t.Fatalf("dispatch(%s) passed on params that read two ways: %v", line, err)
			}
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, id := range r.delivered {
			if c := id[0]; c != '"' && c != '-' && (c < '0' || c > '9') {
				t.Fatalf("dispatch(%s) delivered a response to id %s", line, id)
			}
		}
		for _, a := range r.answers {
			if m, err := jsonrpc.Decode(a); err != nil || !m.IsResponse() {
				t.Fatalf("dispatch(%s) answered %s: %v", line, a, err)
			}
		}
	})
}
