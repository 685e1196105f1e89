package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mcpmux/mcpmux/internal/testutil"
	"github.com/mcpmux/mcpmux/registry"
)

// The transports' edge cases, against a fake server on an in-memory
// network, under testing/synctest: time is the bubble's, and
// synctest.Wait waits until everything in flight has settled.

var fakeKinds = []fakeKind{fakeStreamable, fakeSSE}

// oddParams are params that only a relay of raw bytes keeps as they are:
// keys out of order, an integer above 2^53, an escape.
const oddParams = `{"z":1,"big":9007199254740993,"nested":{"b":[1,2],"a":"\u00e9"},"a":true}`

// recorded is what a fake's client (the Supervisor) reported.
type recorded struct {
	log testutil.SyncBuffer

	mu    sync.Mutex
	notes []note
}

func (r *recorded) options() Options {
	return Options{
		Logger: slog.New(slog.NewTextHandler(&r.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnNotification: func(_, method string, params json.RawMessage) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.notes = append(r.notes, note{method, bytes.Clone(params)})
		},
	}
}

func (r *recorded) noted(method string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.notes {
		if n.method == method {
			out = append(out, string(n.params))
		}
	}
	return out
}

// superviseFake runs a Supervisor for srv over dial until the test ends
// or stop is called, and logs what it logged if the test failed.
func superviseFake(t *testing.T, srv *registry.Server, dial dialFunc, rec *recorded, opts Options) (s *Supervisor, stop func()) {
	t.Helper()
	opts.dial = dial
	opts.Logger = rec.options().Logger
	if opts.OnNotification == nil {
		opts.OnNotification = rec.options().OnNotification
	}
	s = New(srv, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx)
	}()
	stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("log:\n%s", rec.log.String())
		}
	})
	return s, stop
}

func waitReady(t *testing.T, s *Supervisor) {
	t.Helper()
	testutil.WaitFor(t, "ready upstream", func() bool { return s.Status().State == StateReady })
}

// callTool calls tool, within 5 minutes of the bubble's time, and returns
// its raw result.
func callTool(t *testing.T, s *Supervisor, tool string) json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := s.Request(ctx, "tools/call", json.RawMessage(`{"name":"`+tool+`","arguments":{}}`))
	if err != nil {
		t.Fatalf("calling %s: %v", tool, err)
	}
	return res
}

func TestRemoteNotificationsArriveByteForByte(t *testing.T) {
	for _, kind := range fakeKinds {
		t.Run(string(kind), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fake{kind: kind, tools: map[string]fakeTool{
					"notify": func(_ context.Context, _ *fake, out *fakeStream, _ json.RawMessage) string {
						out.send(`{"jsonrpc":"2.0","method":"notifications/progress","params":` + oddParams + `}`)
						return `{"content":[]}`
					},
				}}
				dial, srv := f.serve(t)
				rec := &recorded{}
				s, _ := superviseFake(t, srv, dial, rec, Options{})
				waitReady(t, s)

				callTool(t, s, "notify") // on the call's stream
				f.listening(t.Context()).send(`{"jsonrpc":"2.0","method":"notifications/resources/updated","params":` + oddParams + `}`)
				synctest.Wait()
				for _, method := range []string{"notifications/progress", "notifications/resources/updated"} {
					if got := rec.noted(method); !slices.Equal(got, []string{oddParams}) {
						t.Errorf("%s params = %q, want byte for byte %q", method, got, oddParams)
					}
				}
			})
		})
	}
}

func TestRemoteServerRequestsAnsweredByteForByte(t *testing.T) {
	const (
		elicit       = `{"jsonrpc":"2.0","id":9007199254740993,"method":"elicitation/create","params":` + oddParams + `}`
		elicitAnswer = `{"action":"accept","content":{"n":9007199254740993,"z":1,"a":"\u00e9"}}`
		roots        = `{"jsonrpc":"2.0","id":"roots-1","method":"roots/list","params":{"_meta":{"n":9007199254740993}}}`
		rootsAnswer  = `{"roots":[{"uri":"file:///x","name":"x"}]}`
	)
	for _, kind := range fakeKinds {
		t.Run(string(kind), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				var asked []note
				var answers []string
				answered := func(a json.RawMessage) {
					mu.Lock()
					defer mu.Unlock()
					answers = append(answers, string(a))
				}
				f := &fake{kind: kind, tools: map[string]fakeTool{
					"ask": func(ctx context.Context, f *fake, out *fakeStream, _ json.RawMessage) string {
						answered(f.ask(ctx, out, elicit)) // on the call's stream
						return `{"content":[]}`
					},
				}}
				// Right after initialized, on the stream that carries what
				// belongs to no request: open by then, or the request is lost.
				f.onInitialized = func(f *fake, listen *fakeStream) {
					if listen == nil {
						t.Error("no listening stream was open when the client said it was initialized")
						return
					}
					answered(f.ask(f.life, listen, roots))
				}
				dial, srv := f.serve(t)
				rec := &recorded{}
				s, _ := superviseFake(t, srv, dial, rec, Options{
					OnRequest: func(_ context.Context, _, method string, params json.RawMessage) (json.RawMessage, error) {
						mu.Lock()
						asked = append(asked, note{method, bytes.Clone(params)})
						mu.Unlock()
						if method == "roots/list" {
							return json.RawMessage(rootsAnswer), nil
						}
						return json.RawMessage(elicitAnswer), nil
					},
				})
				waitReady(t, s)
				callTool(t, s, "ask")
				synctest.Wait()

				mu.Lock()
				defer mu.Unlock()
				want := []note{{"roots/list", json.RawMessage(`{"_meta":{"n":9007199254740993}}`)}, {"elicitation/create", json.RawMessage(oddParams)}}
				if !slices.EqualFunc(asked, want, func(a, b note) bool { return a.method == b.method && bytes.Equal(a.params, b.params) }) {
					t.Errorf("OnRequest was asked %s, want byte for byte %s", describe(asked), describe(want))
				}
				wantAnswers := []string{
					`{"jsonrpc":"2.0","id":"roots-1","result":` + rootsAnswer + `}`,
					`{"jsonrpc":"2.0","id":9007199254740993,"result":` + elicitAnswer + `}`,
				}
				if !slices.Equal(answers, wantAnswers) {
					t.Errorf("the server got the answers\n%q\nwant byte for byte\n%q", answers, wantAnswers)
				}
			})
		})
	}
}

func describe(notes []note) string {
	var b strings.Builder
	for _, n := range notes {
		b.WriteString(n.method + " " + string(n.params) + "; ")
	}
	return b.String()
}

// TestRemoteElicitationAnsweredAfter40s answers an elicitation 40s after
// the server asked, longer than mcp-go's transport allowed (a hard 30s):
// the answer reaches the server, and the call its end.
func TestRemoteElicitationAnsweredAfter40s(t *testing.T) {
	const wait = 40 * time.Second
	for _, kind := range fakeKinds {
		t.Run(string(kind), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fake{kind: kind, tools: map[string]fakeTool{
					"elicit": func(ctx context.Context, f *fake, out *fakeStream, _ json.RawMessage) string {
						a := f.ask(ctx, out, `{"jsonrpc":"2.0","id":7,"method":"elicitation/create","params":{"message":"name?"}}`)
						var m struct{ Result json.RawMessage }
						if json.Unmarshal(a, &m) != nil || m.Result == nil {
							return `{"content":[],"isError":true}`
						}
						quoted, _ := json.Marshal(string(m.Result))
						return `{"content":[{"type":"text","text":` + string(quoted) + `}]}`
					},
				}}
				dial, srv := f.serve(t)
				srv.HealthCheck = registry.HealthCheck{} // the default: pinged meanwhile
				rec := &recorded{}
				s, _ := superviseFake(t, srv, dial, rec, Options{
					OnRequest: func(ctx context.Context, _, _ string, _ json.RawMessage) (json.RawMessage, error) {
						select {
						case <-time.After(wait): // a person thinking
							return json.RawMessage(`{"action":"accept","content":{"name":"Ada"}}`), nil
						case <-ctx.Done():
							return nil, ctx.Err()
						}
					},
				})
				waitReady(t, s)
				start := time.Now()
				res := callTool(t, s, "elicit")
				if took := time.Since(start); took < wait {
					t.Errorf("the call returned after %s, before the answer", took)
				}
				if want := `{"content":[{"type":"text","text":"{\"action\":\"accept\",\"content\":{\"name\":\"Ada\"}}"}]}`; string(res) != want {
					t.Errorf("elicit = %s, want %s", res, want)
				}
				if st := s.Status(); st.State != StateReady || st.Restarts != 0 {
					t.Errorf("after the call: %+v, want ready on the first connection", st)
				}
			})
		})
	}
}

// TestRemoteResponseStreamResumed: a call's stream ends before its
// response, after an event with an id, and the response comes when the
// stream is resumed from there: after the delay the server asked for if
// it closed the stream, at once if the stream broke off.
func TestRemoteResponseStreamResumed(t *testing.T) {
	for _, tt := range []struct {
		name  string
		end   func(out *fakeStream) // how the stream ends
		delay time.Duration         // before the resumption
	}{
		{"closed with retry", func(out *fakeStream) { out.write("retry: 250\n\n") }, 250 * time.Millisecond},
		{"closed without retry", func(*fakeStream) {}, reconnectDelay},
		{"broken", func(*fakeStream) { panic(http.ErrAbortHandler) }, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var callID json.RawMessage
				var ended time.Time
				f := &fake{kind: fakeStreamable, tools: map[string]fakeTool{
					"resumable": func(_ context.Context, _ *fake, out *fakeStream, id json.RawMessage) string {
						callID = id
						out.write("id: e1\ndata: \n\n") // primes the client to resume
						out.write(`id: e2` + "\ndata: " + `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}` + "\n\n")
						ended = time.Now()
						tt.end(out)
						return ""
					},
				}}
				var resumedAt time.Time
				f.getStream = func(f *fake, lastID string) (int, func(*fakeStream)) {
					if lastID != "e2" {
						return http.StatusOK, nil
					}
					resumedAt = time.Now()
					return http.StatusOK, func(out *fakeStream) {
						out.write("id: e3\ndata: " + `{"jsonrpc":"2.0","id":` + string(callID) + `,"result":{"content":[],"resumed":true}}` + "\n\n")
					}
				}
				dial, srv := f.serve(t)
				rec := &recorded{}
				s, _ := superviseFake(t, srv, dial, rec, Options{})
				waitReady(t, s)
				if res := callTool(t, s, "resumable"); string(res) != `{"content":[],"resumed":true}` {
					t.Errorf("resumable = %s, want the result sent on the resumed stream", res)
				}
				if resumedAt.IsZero() {
					t.Fatal("the stream was not resumed from e2")
				}
				if d := resumedAt.Sub(ended); d != tt.delay {
					t.Errorf("resumed %s after the stream ended, want %s", d, tt.delay)
				}
				if got := rec.noted("notifications/progress"); len(got) != 1 {
					t.Errorf("progress notifications = %q, want the one sent before the stream ended", got)
				}
				if st := s.Status(); st.Restarts != 0 {
					t.Errorf("after the resumed call: %+v, want the first connection", st)
				}
			})
		})
	}
}

// TestRemoteListeningStreamReconnects: the server ends the listening
// stream, and mcpmux opens it again after the delay the server asked for,
// from after the last event it numbered, on the same session.
func TestRemoteListeningStreamReconnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var lastIDs []string
		f := &fake{kind: fakeStreamable}
		f.getStream = func(f *fake, lastID string) (int, func(*fakeStream)) {
			lastIDs = append(lastIDs, lastID)
			return http.StatusOK, nil
		}
		dial, srv := f.serve(t)
		rec := &recorded{}
		s, _ := superviseFake(t, srv, dial, rec, Options{})
		waitReady(t, s)
		first := f.listening(t.Context())
		first.write("retry: 300\nid: g1\ndata: " + `{"jsonrpc":"2.0","method":"notifications/message","params":{"n":1}}` + "\n\n")
		synctest.Wait()
		ended := time.Now()
		first.end()
		var second *fakeStream
		f.waitFor(t.Context(), func() bool { second = f.listen; return second != nil && second != first })
		if d := time.Since(ended); d != 300*time.Millisecond {
			t.Errorf("reconnected %s after the stream ended, want the 300ms the server asked for", d)
		}
		second.send(`{"jsonrpc":"2.0","method":"notifications/message","params":{"n":2}}`)
		synctest.Wait()
		if got := rec.noted("notifications/message"); !slices.Equal(got, []string{`{"n":1}`, `{"n":2}`}) {
			t.Errorf("notifications = %q, want both streams'", got)
		}
		if !slices.Equal(lastIDs, []string{"g1"}) {
			t.Errorf("Last-Event-ID of the reconnections = %q, want [g1]", lastIDs)
		}
		if st := s.Status(); st.State != StateReady || st.Restarts != 0 {
			t.Errorf("after the reconnection: %+v, want ready on the first connection", st)
		}
	})
}

// TestRemoteListeningStreamFindsSessionGone: the listening stream ends,
// and the server answers its reconnection with 404: the session is gone,
// and mcpmux starts a new one without waiting for a request to find out.
func TestRemoteListeningStreamFindsSessionGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{kind: fakeStreamable}
		f.getStream = func(f *fake, _ string) (int, func(*fakeStream)) {
			if f.sessions == 1 {
				return http.StatusNotFound, nil
			}
			return http.StatusOK, nil
		}
		dial, srv := f.serve(t)
		s, _ := superviseFake(t, srv, dial, &recorded{}, Options{})
		waitReady(t, s)
		f.listening(t.Context()).end()
		testutil.WaitFor(t, "a new session", func() bool { st := s.Status(); return st.State == StateReady && st.Restarts == 1 })
		if st := s.Status(); !strings.Contains(st.LastError, "session expired") {
			t.Errorf("LastError = %q, want the expired session", st.LastError)
		}
		for _, r := range f.received() {
			if r.method == http.MethodDelete && r.header.Get(headerSession) == "session-1" {
				t.Errorf("mcpmux ended the session the server had forgotten")
			}
		}
	})
}

// TestRemoteStreamableHeaders: every request after initialize carries the
// session and the negotiated revision, and the configured headers; when
// mcpmux is done with the session, it ends it with DELETE.
func TestRemoteStreamableHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{kind: fakeStreamable}
		dial, srv := f.serve(t)
		s, stop := superviseFake(t, srv, dial, &recorded{}, Options{})
		waitReady(t, s)
		if _, err := s.Request(t.Context(), "ping", nil); err != nil {
			t.Fatalf("ping: %v", err)
		}
		stop()
		got := f.received()
		var methods []string
		for i, r := range got {
			m, _ := decodeFake(r.body)
			methods = append(methods, r.method+" "+m.Method)
			wantSession, wantVersion := "session-1", "2025-11-25"
			if i == 0 {
				wantSession, wantVersion = "", ""
			}
			if s, v := r.header.Get(headerSession), r.header.Get(headerProtocol); s != wantSession || v != wantVersion {
				t.Errorf("%s %s carried session %q and revision %q, want %q and %q", r.method, m.Method, s, v, wantSession, wantVersion)
			}
			if k := r.header.Get("X-Key"); k != "header-secret" {
				t.Errorf("%s %s carried X-Key %q, want the configured one", r.method, m.Method, k)
			}
		}
		want := []string{"POST initialize", "GET ", "POST notifications/initialized", "POST tools/list", "POST ping", "DELETE "}
		if !slices.Equal(methods, want) {
			t.Errorf("the server received %q, want %q", methods, want)
		}
	})
}

// TestRemoteSSEStreamLostReconnects: the SSE event stream ends, which
// ends its connection; mcpmux makes a new one.
func TestRemoteSSEStreamLostReconnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{kind: fakeSSE}
		dial, srv := f.serve(t)
		s, _ := superviseFake(t, srv, dial, &recorded{}, Options{})
		waitReady(t, s)
		f.listening(t.Context()).end()
		testutil.WaitFor(t, "a new connection", func() bool { st := s.Status(); return st.State == StateReady && st.Restarts == 1 })
		if st := s.Status(); !strings.Contains(st.LastError, "SSE stream lost") {
			t.Errorf("LastError = %q, want the lost stream", st.LastError)
		}
	})
}

// TestRemoteSSEEndpointOnOtherHostRefused: the server names an endpoint
// on another host, which mcpmux must not send the headers to.
func TestRemoteSSEEndpointOnOtherHostRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{kind: fakeSSE, endpoint: "http://elsewhere.test/message"}
		dial, srv := f.serve(t)
		s, _ := superviseFake(t, srv, dial, &recorded{}, Options{})
		testutil.WaitFor(t, "a failed start", func() bool { return s.Status().State == StateBackoff })
		if st := s.Status(); !strings.Contains(st.LastError, "refusing the endpoint http://elsewhere.test") {
			t.Errorf("LastError = %q, want the endpoint refused", st.LastError)
		}
		for _, r := range f.received() {
			if r.method == http.MethodPost {
				t.Errorf("mcpmux posted %s", r.body)
			}
		}
	})
}

// TestRemoteUnauthorizedHint: a 401 says what to check, for both
// transports, without the secrets of the configuration.
func TestRemoteUnauthorizedHint(t *testing.T) {
	for _, kind := range fakeKinds {
		t.Run(string(kind), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fake{kind: kind, status: http.StatusUnauthorized}
				dial, srv := f.serve(t)
				s, _ := superviseFake(t, srv, dial, &recorded{}, Options{})
				testutil.WaitFor(t, "a failed start", func() bool { return s.Status().State == StateBackoff })
				if st := s.Status(); !strings.Contains(st.LastError, "(HTTP 401) with no Bearer challenge") {
					t.Errorf("LastError = %q, want the 401 hint", st.LastError)
				}
			})
		})
	}
}

// TestRemoteMessageTooLarge: a response larger than MaxMessageSize fails
// its call with an error that names the limit, and the connection serves
// the next call.
func TestRemoteMessageTooLarge(t *testing.T) {
	for _, kind := range fakeKinds {
		t.Run(string(kind), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fake{kind: kind, tools: map[string]fakeTool{
					"huge": func(context.Context, *fake, *fakeStream, json.RawMessage) string {
						return `{"content":[{"type":"text","text":"` + strings.Repeat("x", 8<<10) + `"}]}`
					},
					"small": func(context.Context, *fake, *fakeStream, json.RawMessage) string { return `{"content":[]}` },
				}}
				dial, srv := f.serve(t)
				s, _ := superviseFake(t, srv, dial, &recorded{}, Options{MaxMessageSize: 4 << 10})
				waitReady(t, s)
				_, err := s.Request(t.Context(), "tools/call", json.RawMessage(`{"name":"huge"}`))
				if err == nil || !strings.Contains(err.Error(), "larger than the limit, maxMessageSize (4 KB)") {
					t.Errorf("huge = %v, want an error naming the limit", err)
				}
				if res := callTool(t, s, "small"); string(res) != `{"content":[]}` {
					t.Errorf("small after huge = %s", res)
				}
				if st := s.Status(); st.Restarts != 0 {
					t.Errorf("after the huge result: %+v, want the first connection", st)
				}
			})
		})
	}
}

// TestRemoteSSEAtStreamableServerSuggestsType: "type": "sse" for a server
// that speaks streamable HTTP gets a hint to remove it.
func TestRemoteSSEAtStreamableServerSuggestsType(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{kind: fakeStreamable}
		dial, srv := f.serve(t)
		srv.Type = string(fakeSSE)
		s, _ := superviseFake(t, srv, dial, &recorded{}, Options{})
		testutil.WaitFor(t, "a failed start", func() bool { return s.Status().State == StateBackoff })
		if st := s.Status(); !strings.Contains(st.LastError, `if it speaks streamable HTTP, remove "type": "sse"`) {
			t.Errorf("LastError = %q, want a hint to remove the type", st.LastError)
		}
	})
}
