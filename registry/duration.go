package registry

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

var (
	_ json.Marshaler   = Duration(0)
	_ json.Unmarshaler = (*Duration)(nil)
	_ fmt.Stringer     = Duration(0)
)

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d as a Go duration string, such as "1m30s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a JSON string, such as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON reads a Go duration string, such as "30s" or "1m30s". A JSON
// number is rejected rather than guessed at: 30 could mean seconds or
// milliseconds. JSON null leaves d unchanged.
func (d *Duration) UnmarshalJSON(data []byte) error {
	switch kind := jsonrpc.Kind(data); kind {
	case "null":
		return nil
	case "a string":
	case "a number":
		return fmt.Errorf(`must be a duration string like "30s" or "1m30s", got the number %s`, data)
	default:
		return fmt.Errorf(`must be a duration string like "30s" or "1m30s", got %s`, kind)
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("decoding duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		// time's error already quotes s; say what would have been accepted.
		return fmt.Errorf(`%w (want a duration string like "30s" or "1m30s")`, err)
	}
	*d = Duration(v)
	return nil
}
