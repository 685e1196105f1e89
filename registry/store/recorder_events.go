package store

// historyTracker follows the states of one server to turn them into
// history events.
type historyTracker struct {
	last     ServerState // zero before the first state
	connects int         // how many times it became ready
	idled    bool        // its last connection ended by going idle
}

// next records st and returns the events its change of state means:
//
//   - entering ready: connected, and restart if it is not the first
//     connection (nor one made on use after going idle);
//   - leaving ready: disconnected with the reason and how long the
//     connection lasted, or stopped (shutdown, or going idle, the reason);
//   - entering backoff other than from ready: error, with the reason and
//     the attempt;
//   - entering stopped while starting or backing off: stopped (an idle
//     server that stops was not running, and records nothing).
//
// States that do not change the state name (a counted attempt, a new
// error text) mean no event.
func (t *historyTracker) next(st ServerState) []Event {
	prev := t.last
	t.last = st
	if st.State == prev.State {
		return nil
	}
	var events []Event
	at := func(kind EventKind) Event { return Event{Server: st.Server, Kind: kind, Time: st.Since} }
	if prev.State == StateReady {
		e := at(EventDisconnected)
		e.Duration = st.Since.Sub(prev.Since)
		switch st.State {
		case StateStopped:
			e.Kind = EventStopped
		case StateIdle:
			e.Kind, e.Reason = EventStopped, "idle"
		default:
			e.Reason = st.LastError
		}
		t.idled = st.State == StateIdle
		events = append(events, e)
	}
	switch {
	case st.State == StateReady:
		events = append(events, at(EventConnected))
		if t.connects > 0 && !t.idled {
			e := at(EventRestart)
			e.Attempt = prev.Attempt
			events = append(events, e)
		}
		t.connects++
	case st.State == StateBackoff && prev.State != StateReady:
		e := at(EventError)
		e.Reason, e.Attempt = st.LastError, st.Attempt
		events = append(events, e)
	case st.State == StateStopped && (prev.State == StateStarting || prev.State == StateBackoff):
		events = append(events, at(EventStopped))
	}
	return events
}
