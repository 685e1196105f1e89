package registry

import (
	"encoding/json"
	"fmt"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// Defaults of the bounds on what clients may ask of mcpmux at once (see
// [Limits]).
const (
	// DefaultMaxInFlight is the default of "maxInFlight".
	DefaultMaxInFlight = 4096
	// DefaultMaxSessions is the default of "maxSessions".
	DefaultMaxSessions = 256
	// DefaultMaxInFlightTotal is the default of "maxInFlightTotal".
	DefaultMaxInFlightTotal = 16384
	// maxLimit bounds each of them: far more than any client needs, and
	// small enough that no count overflows.
	maxLimit = 1 << 20
)

// Limits bound what clients may ask of mcpmux at once, so that memory
// stays bounded under any request rate. Each is a top-level key of the
// configuration file; zero means its default.
type Limits struct {
	// MaxInFlight bounds the requests of one client session in flight;
	// one more is refused at once. Zero means [DefaultMaxInFlight].
	MaxInFlight int `json:"maxInFlight,omitempty"`
	// MaxSessions bounds the sessions open at once over HTTP. Zero means
	// [DefaultMaxSessions].
	MaxSessions int `json:"maxSessions,omitempty"`
	// MaxInFlightTotal bounds the requests in flight across all sessions
	// over HTTP; each session may hold its share of it. Zero means
	// [DefaultMaxInFlightTotal].
	MaxInFlightTotal int `json:"maxInFlightTotal,omitempty"`
}

// limitKeys are the top-level keys of Limits, with where each goes.
func (l *Limits) fields() []struct {
	key string
	dst *int
	def int
} {
	return []struct {
		key string
		dst *int
		def int
	}{
		{"maxInFlight", &l.MaxInFlight, DefaultMaxInFlight},
		{"maxSessions", &l.MaxSessions, DefaultMaxSessions},
		{"maxInFlightTotal", &l.MaxInFlightTotal, DefaultMaxInFlightTotal},
	}
}

// decode decodes the top-level keys of l that are present; a bad one is
// reported and left at its default.
func (l *Limits) decode(top map[string]json.RawMessage) []error {
	var errs []error
	for _, f := range l.fields() {
		raw, ok := top[f.key]
		if !ok {
			continue
		}
		var n int
		if err := json.Unmarshal(raw, &n); err != nil {
			errs = append(errs, fmt.Errorf(`field %q: must be an integer from 1 to %d, got %s`, f.key, maxLimit, jsonrpc.Kind(raw)))
			continue
		}
		if err := checkLimit(f.key, n, f.def); err != nil {
			errs = append(errs, err)
			continue
		}
		*f.dst = n
	}
	return errs
}

// check reports every limit out of bounds.
func (l *Limits) check() []error {
	var errs []error
	for _, f := range l.fields() {
		if err := checkLimit(f.key, *f.dst, f.def); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func checkLimit(key string, n, def int) error {
	if n < 0 || n > maxLimit {
		return fmt.Errorf(`field %q: must be from 1 to %d (the default is %d), got %d`, key, maxLimit, def, n)
	}
	return nil
}

// InFlight returns the bound of one session's requests in flight.
func (l Limits) InFlight() int { return or(l.MaxInFlight, DefaultMaxInFlight) }

// Sessions returns the bound of the sessions open over HTTP.
func (l Limits) Sessions() int { return or(l.MaxSessions, DefaultMaxSessions) }

// InFlightTotal returns the bound of the requests in flight across
// sessions over HTTP.
func (l Limits) InFlightTotal() int { return or(l.MaxInFlightTotal, DefaultMaxInFlightTotal) }

func or(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}
