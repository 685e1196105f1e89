package registry

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// Settings of serve --http that matter when it runs as one of several
// replicas behind a load balancer: the drain on SIGTERM and the life of a
// portable session (see proxy/httpserve).
type Replicas struct {
	// DrainTimeout bounds how long serve --http, once told to stop, lets
	// the requests in flight finish ("drainTimeout"). Nil means
	// [DefaultDrainTimeout].
	DrainTimeout *Duration `json:"drainTimeout,omitempty"`
	// SessionMaxAge is how long a portable session lives after its
	// initialize ("sessionMaxAge"). Nil means [DefaultSessionMaxAge].
	SessionMaxAge *Duration `json:"sessionMaxAge,omitempty"`
}

// Defaults and bounds of [Replicas].
const (
	DefaultDrainTimeout  = 5 * time.Second
	MaxDrainTimeout      = 5 * time.Minute
	DefaultSessionMaxAge = 24 * time.Hour
	MinSessionMaxAge     = time.Minute
	MaxSessionMaxAge     = 30 * 24 * time.Hour
)

// replicaKeys are the keys of Replicas, with their bounds.
func (r *Replicas) fields() []durationKey {
	return []durationKey{
		{"drainTimeout", &r.DrainTimeout, 0, MaxDrainTimeout, DefaultDrainTimeout},
		{"sessionMaxAge", &r.SessionMaxAge, MinSessionMaxAge, MaxSessionMaxAge, DefaultSessionMaxAge},
	}
}

type durationKey struct {
	key         string
	dst         **Duration
	least, most time.Duration
	defaultsTo  time.Duration
}

// Drain returns the drain bound.
func (r Replicas) Drain() time.Duration { return orDuration(r.DrainTimeout, DefaultDrainTimeout) }

// SessionLife returns how long a portable session lives.
func (r Replicas) SessionLife() time.Duration {
	return orDuration(r.SessionMaxAge, DefaultSessionMaxAge)
}

func orDuration(d *Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return time.Duration(*d)
}

// decode decodes the keys of r that are present; a bad one is reported
// and left at its default.
func (r *Replicas) decode(top map[string]json.RawMessage) []error {
	var errs []error
	for _, f := range r.fields() {
		raw, ok := top[f.key]
		if !ok || jsonrpc.IsNull(raw) {
			continue
		}
		var d Duration
		if err := json.Unmarshal(raw, &d); err != nil {
			errs = append(errs, fmt.Errorf(`field %q: %w`, f.key, err))
			continue
		}
		if err := f.check(&d); err != nil {
			errs = append(errs, err)
			continue
		}
		*f.dst = &d
	}
	return errs
}

// check reports every key out of bounds.
func (r *Replicas) check() []error {
	var errs []error
	for _, f := range r.fields() {
		if err := f.check(*f.dst); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func (f durationKey) check(d *Duration) error {
	if d != nil && (time.Duration(*d) < f.least || time.Duration(*d) > f.most) {
		return fmt.Errorf(`field %q: must be from %q to %q (the default is %q), got %q`,
			f.key, f.least.String(), f.most.String(), f.defaultsTo.String(), time.Duration(*d).String())
	}
	return nil
}
