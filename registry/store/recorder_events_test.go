package store

import (
	"reflect"
	"testing"
	"time"
)

func TestHistoryTrackerEvents(t *testing.T) {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }
	st := func(state string, sec int, lastErr string, attempt int) ServerState {
		return ServerState{Server: "a", State: state, Since: at(sec), LastError: lastErr, Attempt: attempt}
	}
	ev := func(kind EventKind, sec int, reason string, d time.Duration, attempt int) Event {
		return Event{Server: "a", Kind: kind, Time: at(sec), Reason: reason, Duration: d, Attempt: attempt}
	}
	tests := []struct {
		name   string
		states []ServerState
		want   []Event
	}{
		{
			name:   "start and shut down",
			states: []ServerState{st(StateStarting, 0, "", 0), st(StateReady, 1, "", 0), st(StateStopped, 11, "", 0)},
			want:   []Event{ev(EventConnected, 1, "", 0, 0), ev(EventStopped, 11, "", 10*time.Second, 0)},
		},
		{
			name: "crash and restart",
			states: []ServerState{
				st(StateStarting, 0, "", 0), st(StateReady, 1, "", 0),
				st(StateBackoff, 5, "signal: killed", 1), st(StateStarting, 6, "signal: killed", 1),
				st(StateReady, 7, "signal: killed", 0),
			},
			want: []Event{
				ev(EventConnected, 1, "", 0, 0),
				ev(EventDisconnected, 5, "signal: killed", 4*time.Second, 0),
				ev(EventConnected, 7, "", 0, 0),
				ev(EventRestart, 7, "", 0, 1),
			},
		},
		{
			name: "failing to start",
			states: []ServerState{
				st(StateStarting, 0, "", 0), st(StateBackoff, 1, "exit status 2", 1),
				st(StateStarting, 2, "exit status 2", 1), st(StateBackoff, 3, "exit status 2", 2),
				st(StateStopped, 4, "exit status 2", 2),
			},
			want: []Event{
				ev(EventError, 1, "exit status 2", 0, 1),
				ev(EventError, 3, "exit status 2", 0, 2),
				ev(EventStopped, 4, "", 0, 0),
			},
		},
		{
			name: "lazy: idle, used, idle again",
			states: []ServerState{
				st(StateIdle, 0, "", 0), st(StateStarting, 1, "", 0), st(StateReady, 2, "", 0),
				st(StateIdle, 5, "", 0), st(StateStarting, 6, "", 0), st(StateReady, 7, "", 0),
				st(StateIdle, 8, "", 0), st(StateStopped, 9, "", 0),
			},
			want: []Event{
				ev(EventConnected, 2, "", 0, 0),
				ev(EventStopped, 5, "idle", 3*time.Second, 0),
				ev(EventConnected, 7, "", 0, 0), // not a restart
				ev(EventStopped, 8, "idle", time.Second, 0),
			},
		},
		{
			name:   "never used",
			states: []ServerState{st(StateIdle, 0, "", 0), st(StateStopped, 1, "", 0)},
		},
		{
			name:   "same state again",
			states: []ServerState{st(StateReady, 1, "", 0), st(StateReady, 1, "new error", 1)},
			want:   []Event{ev(EventConnected, 1, "", 0, 0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr historyTracker
			var got []Event
			for _, s := range tt.states {
				got = append(got, tr.next(s)...)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
