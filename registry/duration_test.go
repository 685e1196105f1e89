package registry

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDurationRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		json string
		want time.Duration
		out  string // what MarshalJSON writes back
	}{
		{name: "seconds", json: `"30s"`, want: 30 * time.Second, out: `"30s"`},
		{name: "compound", json: `"1m30s"`, want: 90 * time.Second, out: `"1m30s"`},
		{name: "milliseconds", json: `"500ms"`, want: 500 * time.Millisecond, out: `"500ms"`},
		{name: "hours normalized", json: `"1.5h"`, want: 90 * time.Minute, out: `"1h30m0s"`},
		{name: "negative", json: `"-1s"`, want: -time.Second, out: `"-1s"`},
		{name: "zero", json: `"0s"`, want: 0, out: `"0s"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Duration
			if err := json.Unmarshal([]byte(tt.json), &d); err != nil || d.Std() != tt.want {
				t.Fatalf("json.Unmarshal(%s) = %v, %v, want %v, nil", tt.json, d, err, tt.want)
			}
			out, err := json.Marshal(d)
			if err != nil || string(out) != tt.out {
				t.Errorf("json.Marshal(%v) = %s, %v, want %s, nil", d, out, err, tt.out)
			}
			if got, want := d.String(), strings.Trim(tt.out, `"`); got != want {
				t.Errorf("Duration(%v).String() = %q, want %q", tt.want, got, want)
			}
		})
	}
}

func TestDurationRejects(t *testing.T) {
	tests := []struct {
		name string
		json string
		want string
	}{
		{name: "number", json: `30`, want: `must be a duration string like "30s" or "1m30s", got the number 30`},
		{name: "float", json: `1.5`, want: `got the number 1.5`},
		{name: "boolean", json: `true`, want: `must be a duration string like "30s" or "1m30s", got a boolean`},
		{name: "object", json: `{"s": 1}`, want: `got an object`},
		{name: "no unit", json: `"30"`, want: `time: missing unit in duration "30" (want a duration string like "30s" or "1m30s")`},
		{name: "empty", json: `""`, want: `time: invalid duration ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Duration(time.Second)
			err := json.Unmarshal([]byte(tt.json), &d)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("json.Unmarshal(%s) error = %v, want it to contain %q", tt.json, err, tt.want)
			}
			if d != Duration(time.Second) {
				t.Errorf("json.Unmarshal(%s) changed d to %v, want it unchanged", tt.json, d)
			}
		})
	}
}

func TestDurationNull(t *testing.T) {
	d := Duration(time.Second)
	if err := json.Unmarshal([]byte(`null`), &d); err != nil || d != Duration(time.Second) {
		t.Errorf("json.Unmarshal(null) = %v, %v, want 1s unchanged, nil", d, err)
	}
}

func TestServerMarshalsDurationsAsStrings(t *testing.T) {
	s := Server{Command: "x", Timeout: Duration(time.Minute), Backoff: Backoff{Initial: Duration(time.Second)}}
	got, err := json.Marshal(s)
	want := `{"command":"x","timeout":"1m0s","backoff":{"initial":"1s"}}`
	if err != nil || string(got) != want {
		t.Errorf("json.Marshal(%+v) = %s, %v, want %s, nil", s, got, err, want)
	}
}
