package upstream

import (
	"errors"
	"os/exec"
	"testing"
	"time"
)

func TestLastWords(t *testing.T) {
	exited := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	status := func(script string) error {
		err := exec.Command("sh", "-c", script).Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("sh -c %q = %v, want an exit error", script, err)
		}
		return err
	}
	failed, terminated, killed, aborted := status("exit 1"), status("kill -TERM $$"), status("kill -KILL $$"), status("kill -ABRT $$")
	tests := []struct {
		name    string
		exitErr error
		at      time.Time // when the line was read
		want    string
	}{
		{"just before the exit", failed, exited.Add(-100 * time.Millisecond), "line"},
		{"after the exit", failed, exited.Add(100 * time.Millisecond), "line"},
		{"clean exit", nil, exited.Add(-time.Second), "line"},
		{"long before the exit", failed, exited.Add(-time.Minute), ""},
		{"SIGTERM", terminated, exited, ""},
		{"SIGKILL", killed, exited, ""},
		{"SIGABRT", aborted, exited, "line"},
	}
	for _, tt := range tests {
		if got := lastWords(tt.exitErr, "line", tt.at, exited); got != tt.want {
			t.Errorf("%s: lastWords(%v) = %q, want %q", tt.name, tt.exitErr, got, tt.want)
		}
	}
}
