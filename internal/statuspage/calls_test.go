package statuspage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/internal/statuspage"
)

func TestOutcome(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, statuspage.OutcomeOK},
		{"upstream error", &jsonrpc.Error{Code: -32000, Message: "boom"}, statuspage.OutcomeError},
		{"mcpmux's timeout", jsonrpc.Errorf(jsonrpc.CodeUpstreamTimeout, "upstream %q did not answer", "s"), statuspage.OutcomeTimeout},
		{"deadline", fmt.Errorf("calling: %w", context.DeadlineExceeded), statuspage.OutcomeTimeout},
		{"cancelled", fmt.Errorf("calling: %w", context.Canceled), statuspage.OutcomeCancelled},
		{"connection lost", errors.New("connection lost"), statuspage.OutcomeError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statuspage.Outcome(tt.err); got != tt.want {
				t.Errorf("Outcome(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

// TestP95 checks the nearest-rank 95th percentile of an upstream's calls,
// and that only failures count as errors.
func TestP95(t *testing.T) {
	var c statuspage.Calls
	for i := 1; i <= 100; i++ {
		var err error
		if i%10 == 0 {
			err = errors.New("failed")
		}
		c.Record("s", "t", time.Duration(i)*time.Millisecond, err)
	}
	got := c.Stats()["s"]
	if got.Calls != 100 || got.Errors != 10 || got.P95Millis != 95 {
		t.Errorf("Stats()[s] = %+v, want 100 calls, 10 errors, p95 95ms", got)
	}
	c.Forget("s")
	if _, ok := c.Stats()["s"]; ok {
		t.Error("Forget(s) kept s's stats")
	}
}

// TestNeedsLogin checks that an upstream whose OAuth login is missing is
// flagged, with the command that gives it, and that withheld tools land
// on their server's line.
func TestNeedsLogin(t *testing.T) {
	status := `{"upstreams":[` +
		`{"server":"remote","state":"backoff","lastError":"needs login","login":{"state":"needs login","command":"mcpmux login remote"}},` +
		`{"server":"local","state":"ready","pid":42}],` +
		`"withheld":[{"server":"local","kind":"tool","name":"notes","exposed":"local__notes","withheld":true,"reason":"changed","approve":"mcpmux trust local notes"}]}`
	srv := httptest.NewServer(statuspage.Handler(statuspage.Options{Status: func() json.RawMessage { return json.RawMessage(status) }}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/status.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v statuspage.View
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if len(v.Upstreams) != 2 {
		t.Fatalf("upstreams = %+v, want local and remote", v.Upstreams)
	}
	local, remote := v.Upstreams[0], v.Upstreams[1]
	if !remote.NeedsLogin || remote.Login == nil || remote.Login.Command != "mcpmux login remote" {
		t.Errorf("remote = %+v, want needs login with its command", remote)
	}
	if local.NeedsLogin || local.PID != 42 || len(local.Withheld) != 1 || local.Withheld[0].Approve != "mcpmux trust local notes" {
		t.Errorf("local = %+v, want pid 42 and its withheld notes", local)
	}
}

// BenchmarkRecord is what the page's subscriber adds to every call.
func BenchmarkRecord(b *testing.B) {
	var c statuspage.Calls
	for i := 0; b.Loop(); i++ {
		c.Record("server", "tool", time.Duration(i), nil)
	}
}

// BenchmarkRecordParallel is Record from many sessions at once.
func BenchmarkRecordParallel(b *testing.B) {
	var c statuspage.Calls
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Record("server", "tool", time.Millisecond, nil)
		}
	})
}
