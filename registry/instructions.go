package registry

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// DefaultInstructionsWait and MaxInstructionsWait bound
// [Config.InstructionsWait].
const (
	DefaultInstructionsWait = 3 * time.Second
	MaxInstructionsWait     = time.Minute
)

// InstructionsBound returns how long a client's initialize waits for the
// upstreams' handshakes, to relay their instructions: InstructionsWait,
// or [DefaultInstructionsWait] if unset.
func (c *Config) InstructionsBound() time.Duration {
	if c.InstructionsWait == nil {
		return DefaultInstructionsWait
	}
	return time.Duration(*c.InstructionsWait)
}

// decodeInstructionsWait decodes the top-level "instructionsWait", if
// present.
func decodeInstructionsWait(top map[string]json.RawMessage, dst **Duration) error {
	raw, ok := top["instructionsWait"]
	if !ok {
		return nil
	}
	var d Duration
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf(`field "instructionsWait": %w`, err)
	}
	if jsonrpc.IsNull(raw) {
		return nil
	}
	*dst = &d
	return checkInstructionsWait(*dst)
}

// checkInstructionsWait reports an instructionsWait out of bounds; nil
// means the default.
func checkInstructionsWait(d *Duration) error {
	if d != nil && (*d < 0 || time.Duration(*d) > MaxInstructionsWait) {
		return fmt.Errorf(`field "instructionsWait": must be from "0s" to %q (the default is %q), got %q`,
			MaxInstructionsWait.String(), DefaultInstructionsWait.String(), time.Duration(*d).String())
	}
	return nil
}
