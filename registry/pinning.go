package registry

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// The values of "toolPinning" (see [Config.ToolPinning]).
const (
	PinningWithhold = "withhold"
	PinningWarn     = "warn"
	PinningOff      = "off"
)

var pinningValues = []string{PinningWithhold, PinningWarn, PinningOff}

// Pinning returns the server's pinning policy: its own "toolPinning", else
// def (the configuration's), else "withhold".
func (s *Server) Pinning(def string) string {
	return cmp.Or(s.ToolPinning, def, PinningWithhold)
}

// checkPinning reports a "toolPinning" value mcpmux does not know.
func checkPinning(v string) error {
	if v != "" && !slices.Contains(pinningValues, v) {
		return fmt.Errorf(`must be "withhold", "warn" or "off", got %q`, v)
	}
	return nil
}

// topPinning checks the top-level "toolPinning".
func topPinning(v string) error {
	if err := checkPinning(v); err != nil {
		return fmt.Errorf(`field "toolPinning": %w`, err)
	}
	return nil
}

// decodePinning decodes the top-level "toolPinning", if present; a bad
// value is left at the default, "withhold".
func decodePinning(top map[string]json.RawMessage, dst *string) error {
	raw, ok := top["toolPinning"]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf(`field "toolPinning": must be "withhold", "warn" or "off", got %s`, jsonrpc.Kind(raw))
	}
	if err := topPinning(*dst); err != nil {
		*dst = ""
		return err
	}
	return nil
}
