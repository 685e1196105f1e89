package registry

import (
	"strings"
	"testing"
)

func TestToolPinning(t *testing.T) {
	cfg, err := Parse([]byte(`{"toolPinning": "warn", "mcpServers": {
		"a": {"command": "a"},
		"b": {"command": "b", "toolPinning": "off"},
		"c": {"command": "c", "toolPinning": "never"}
	}}`), nil)
	if err == nil || !strings.Contains(err.Error(), `server "c": field "toolPinning": must be "withhold", "warn" or "off", got "never"`) {
		t.Errorf("Parse error = %v, want c's toolPinning named", err)
	}
	if got := cfg.Servers["a"].Pinning(cfg.ToolPinning); got != PinningWarn {
		t.Errorf("a's policy = %q, want the file's warn", got)
	}
	if got := cfg.Servers["b"].Pinning(cfg.ToolPinning); got != PinningOff {
		t.Errorf("b's policy = %q, want its own off", got)
	}
	if got := (&Server{}).Pinning(""); got != PinningWithhold {
		t.Errorf("default policy = %q, want withhold", got)
	}
	cfg, err = Parse([]byte(`{"toolPinning": 1, "mcpServers": {}}`), nil)
	if err == nil || len(cfg.Problems) != 1 || cfg.ToolPinning != "" || !strings.Contains(err.Error(), `field "toolPinning"`) {
		t.Errorf("Parse of a numeric toolPinning = %v, problems %v", err, cfg.Problems)
	}
}
