package upstream

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mcpmux/mcpmux/registry"
)

// pipeConn returns a connection to an in-memory upstream that answers the
// nth ping (counting from 1) only if answer(n) says so, and ignores
// everything else. It must run inside the bubble of the test using it.
func pipeConn(t *testing.T, answer func(n int) bool) *conn {
	t.Helper()
	pings := 0
	c := memConn(t, func(_ []byte, id json.RawMessage, method string, reply func(string)) {
		if method != "ping" {
			return
		}
		if pings++; answer(pings) {
			reply(`{"jsonrpc":"2.0","id":` + string(id) + `,"result":{}}`)
		}
	})
	c.init = initResult{ProtocolVersion: "2025-11-25"}
	return c
}

func healthSupervisor(interval time.Duration, threshold int) *Supervisor {
	return New(&registry.Server{
		Name:        "x",
		HealthCheck: registry.HealthCheck{Interval: registry.Duration(interval), Threshold: threshold},
	}, Options{})
}

func TestHealthCheckKillsSilentConnectionAtThreshold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := pipeConn(t, func(n int) bool { return n <= 2 })
		start := time.Now()
		stop := healthSupervisor(30*time.Second, 3).checkHealth(context.Background(), c)
		defer stop()
		<-c.done
		// Pings 1 and 2 are answered; 3, 4 and 5 (at 90s, 120s, 150s) time
		// out after min(interval, 10s).
		if took := time.Since(start); took != 160*time.Second {
			t.Errorf("connection died after %s, want 160s", took)
		}
		if msg := c.deathErr.Error(); !strings.Contains(msg, "health check failed 3 times in a row") || !strings.Contains(msg, "no answer within 10s") {
			t.Errorf("death reason = %q", msg)
		}
	})
}

func TestHealthCheckForgivesFailuresNotInARow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := pipeConn(t, func(n int) bool { return n%2 == 0 })
		stop := healthSupervisor(10*time.Second, 2).checkHealth(context.Background(), c)
		time.Sleep(time.Hour)
		stop()
		if c.dead() {
			t.Errorf("connection died of %v, though no two pings in a row failed", c.deathErr)
		}
	})
}

func TestHealthCheckOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pings atomic.Int32
		c := pipeConn(t, func(int) bool { pings.Add(1); return false })
		stop := healthSupervisor(-1, 1).checkHealth(context.Background(), c)
		time.Sleep(time.Hour)
		stop()
		if n := pings.Load(); n != 0 || c.dead() {
			t.Errorf("with health checks off: %d pings, dead %v", n, c.dead())
		}
	})
}

func TestBackOffGrowsWithJitterUpToMax(t *testing.T) {
	for _, tc := range []struct {
		name         string
		backoff      registry.Backoff
		initial, max time.Duration
	}{
		{"defaults", registry.Backoff{}, 500 * time.Millisecond, 30 * time.Second},
		{"configured", registry.Backoff{Initial: registry.Duration(100 * time.Millisecond), Max: registry.Duration(time.Second)},
			100 * time.Millisecond, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(&registry.Server{Name: "x", Backoff: tc.backoff}, Options{})
			for range 100 {
				b := s.newBackOff()
				interval := tc.initial
				for n := 1; n <= 20; n++ {
					lo, hi := interval/2-time.Microsecond, min(interval*3/2, tc.max)+time.Microsecond
					if d := b.NextBackOff(); d < lo || d > hi {
						t.Fatalf("delay %d = %s, want %s±50%% capped at %s", n, d, interval, tc.max)
					}
					interval = min(interval*3/2, tc.max)
				}
				b.Reset()
				if d := b.NextBackOff(); d < tc.initial/2 || d > tc.initial*3/2 {
					t.Fatalf("delay after Reset = %s, want %s±50%%", d, tc.initial)
				}
			}
		})
	}
}
