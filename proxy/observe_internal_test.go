package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

func TestWithTraceparent(t *testing.T) {
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	for _, c := range []struct{ in, want string }{
		{`{"name":"x","arguments":{"a":1}}`, `{"_meta":{"traceparent":"` + tp + `"},"name":"x","arguments":{"a":1}}`},
		{`{"_meta":{"progressToken":7},"name":"x"}`, `{"_meta":{"traceparent":"` + tp + `","progressToken":7},"name":"x"}`},
		{`{"name":"x", "_meta" : { "traceparent" : "00-old" , "k":[1, 2]} }`, `{"name":"x", "_meta" : { "traceparent" : "` + tp + `" , "k":[1, 2]} }`},
		{`{"_meta":{},"name":"x"}`, `{"_meta":{"traceparent":"` + tp + `"},"name":"x"}`},
		{`{}`, `{"_meta":{"traceparent":"` + tp + `"}}`},
		{``, `{"_meta":{"traceparent":"` + tp + `"}}`},
		{`[1,2]`, `[1,2]`}, // not an object: left alone
		{`{"_meta":"odd","name":"x"}`, `{"_meta":"odd","name":"x"}`}, // _meta not an object: left alone
	} {
		if got := string(withTraceparent(json.RawMessage(c.in), tp)); got != c.want {
			t.Errorf("withTraceparent(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestOutcomeOf(t *testing.T) {
	for _, c := range []struct {
		res  string
		err  error
		want CallOutcome
	}{
		{`{"content":[]}`, nil, CallOK},
		{`{"content":[],"isError":false}`, nil, CallOK},
		{`{"content":[{"type":"text","text":"\"isError\":true"}]}`, nil, CallOK},
		{`{"content":[],"isError":true}`, nil, CallError},
		{``, errors.New("boom"), CallError},
		{``, fmt.Errorf("x: %w", errTimeout), CallTimeout},
		{``, errCancelled, CallCancelled},
		{``, context.Canceled, CallCancelled},
	} {
		if got := outcomeOf(json.RawMessage(c.res), c.err); got != c.want {
			t.Errorf("outcomeOf(%s, %v) = %v, want %v", c.res, c.err, got, c.want)
		}
	}
	for o, want := range map[CallOutcome]string{CallOK: "ok", CallError: "error", CallTimeout: "timeout", CallCancelled: "cancelled"} {
		if o.String() != want {
			t.Errorf("%d.String() = %s, want %s", o, o, want)
		}
	}
}
