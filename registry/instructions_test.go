package registry

import (
	"strings"
	"testing"
	"time"
)

func TestInstructionsWait(t *testing.T) {
	tests := []struct {
		data string
		want time.Duration
		err  string // substring of the problem; "" for none
	}{
		{`{"mcpServers": {}}`, DefaultInstructionsWait, ""},
		{`{"mcpServers": {}, "instructionsWait": null}`, DefaultInstructionsWait, ""},
		{`{"mcpServers": {}, "instructionsWait": "500ms"}`, 500 * time.Millisecond, ""},
		{`{"mcpServers": {}, "instructionsWait": "0s"}`, 0, ""},
		{`{"mcpServers": {}, "instructionsWait": "-1s"}`, DefaultInstructionsWait, `field "instructionsWait": must be from "0s" to "1m0s" (the default is "3s"), got "-1s"`},
		{`{"mcpServers": {}, "instructionsWait": "2m"}`, DefaultInstructionsWait, `field "instructionsWait": must be from "0s" to "1m0s"`},
		{`{"mcpServers": {}, "instructionsWait": 3}`, DefaultInstructionsWait, `field "instructionsWait": must be a duration string like "30s"`},
	}
	for _, tt := range tests {
		c, err := Parse([]byte(tt.data), env(nil))
		switch {
		case c == nil:
			t.Errorf("Parse(%s) = nil, %v; want a configuration", tt.data, err)
		case tt.err == "" && err != nil, tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || len(c.Problems) != 1):
			t.Errorf("Parse(%s) error = %v, want %q", tt.data, err, tt.err)
		case c.InstructionsBound() != tt.want:
			t.Errorf("Parse(%s).InstructionsBound() = %v, want %v", tt.data, c.InstructionsBound(), tt.want)
		}
	}
}
