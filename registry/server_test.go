package registry

import (
	"strings"
	"testing"
	"time"
)

func TestTransport(t *testing.T) {
	tests := []struct {
		name string
		s    Server
		want string
	}{
		{name: "command", s: Server{Command: "x"}, want: TransportStdio},
		{name: "url", s: Server{URL: "https://h"}, want: TransportHTTP},
		{name: "stdio", s: Server{Type: "stdio", Command: "x"}, want: TransportStdio},
		{name: "sse", s: Server{Type: "sse", URL: "https://h"}, want: TransportSSE},
		{name: "http", s: Server{Type: "http", URL: "https://h"}, want: TransportHTTP},
		{name: "streamable-http", s: Server{Type: "streamable-http", URL: "https://h"}, want: TransportHTTP},
		{name: "streamableHttp", s: Server{Type: "streamableHttp", URL: "https://h"}, want: TransportHTTP},
		{name: "upper case", s: Server{Type: "SSE", URL: "https://h"}, want: TransportSSE},
		{name: "type wins", s: Server{Type: "sse", Command: "x"}, want: TransportSSE},
		{name: "unknown type", s: Server{Type: "ws", URL: "https://h"}, want: ""},
		{name: "nothing", s: Server{}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Transport(); got != tt.want {
				t.Errorf("Server{Type: %q}.Transport() = %q, want %q", tt.s.Type, got, tt.want)
			}
		})
	}
}

func TestExposedPrefix(t *testing.T) {
	tests := []struct {
		name   string
		prefix *string
		want   string
	}{
		{name: "unset", prefix: nil, want: "github"},
		{name: "set", prefix: ptr("gh"), want: "gh"},
		{name: "empty", prefix: ptr(""), want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Server{Name: "github", Prefix: tt.prefix}
			if got := s.ExposedPrefix(); got != tt.want {
				t.Errorf("ExposedPrefix() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPolicies(t *testing.T) {
	type policies struct {
		timeout, idle, initial, max, interval time.Duration
		attempts, threshold                   int
	}
	get := func(s *Server) policies {
		var p policies
		p.timeout, p.idle = s.RequestTimeout(), s.IdleAfter()
		p.initial, p.max, p.attempts = s.BackoffPolicy()
		p.interval, p.threshold = s.HealthPolicy()
		return p
	}
	tests := []struct {
		name string
		s    Server
		want policies
	}{
		{
			name: "defaults",
			want: policies{timeout: 60 * time.Second, idle: 10 * time.Minute, initial: 500 * time.Millisecond, max: 30 * time.Second, interval: 30 * time.Second, threshold: 3},
		},
		{
			name: "set",
			s: Server{
				Timeout: Duration(time.Second), IdleTimeout: Duration(time.Minute),
				Backoff:     Backoff{Initial: Duration(time.Second), Max: Duration(time.Hour), MaxAttempts: 4},
				HealthCheck: HealthCheck{Interval: Duration(5 * time.Second), Threshold: 1},
			},
			want: policies{timeout: time.Second, idle: time.Minute, initial: time.Second, max: time.Hour, attempts: 4, interval: 5 * time.Second, threshold: 1},
		},
		{
			name: "health checks disabled",
			s:    Server{HealthCheck: HealthCheck{Interval: Duration(-1)}},
			want: policies{timeout: 60 * time.Second, idle: 10 * time.Minute, initial: 500 * time.Millisecond, max: 30 * time.Second, interval: 0, threshold: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := get(&tt.s); got != tt.want {
				t.Errorf("policies of %s = %+v, want %+v", tt.name, got, tt.want)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	base := func() *Server {
		return &Server{
			Name: "a", Command: "npx", Args: []string{"-y", "pkg", "--token=first-token-1"}, Cwd: "/srv",
			Env:     map[string]string{"A": "1", "B": "2", "GITHUB_TOKEN": "first-token-1", "DB": "first-password"},
			Headers: map[string]string{"H": "Bearer first-token-1"}, SecretEnv: []string{"DB"},
		}
	}
	want := base().Fingerprint()
	if len(want) != 16 || strings.Trim(want, "0123456789abcdef") != "" {
		t.Fatalf("Fingerprint() = %q, want 16 hex digits", want)
	}
	tests := []struct {
		name    string
		change  func(*Server)
		changes bool
	}{
		{name: "same config", change: func(*Server) {}},
		{name: "env rebuilt", change: func(s *Server) {
			s.Env = map[string]string{"B": "2", "A": "1", "DB": "first-password", "GITHUB_TOKEN": "first-token-1"}
		}},
		{name: "prefix", change: func(s *Server) { s.Prefix = ptr("p") }},
		{name: "timeout", change: func(s *Server) { s.Timeout = Duration(time.Second) }},
		{name: "disabled", change: func(s *Server) { s.Disabled = true }},
		{name: "backoff", change: func(s *Server) { s.Backoff.MaxAttempts = 3 }},
		{name: "health", change: func(s *Server) { s.HealthCheck.Threshold = 9 }},
		{name: "lazy", change: func(s *Server) { s.Lazy, s.IdleTimeout = true, Duration(time.Second) }},
		{name: "name", change: func(s *Server) { s.Name = "b" }},
		{name: "explicit default type", change: func(s *Server) { s.Type = "stdio" }},
		{name: "command", change: func(s *Server) { s.Command = "node" }, changes: true},
		{name: "args", change: func(s *Server) { s.Args = append(s.Args, "x") }, changes: true},
		{name: "args split differently", change: func(s *Server) { s.Args = []string{"-ypkg"} }, changes: true},
		{name: "env value", change: func(s *Server) { s.Env["A"] = "other" }, changes: true},
		{name: "env key", change: func(s *Server) { s.Env["C"] = "3" }, changes: true},
		{name: "value moved between keys", change: func(s *Server) { s.Env["A"], s.Env["B"] = "12", "" }, changes: true},
		{name: "cwd", change: func(s *Server) { s.Cwd = "" }, changes: true},
		{name: "url", change: func(s *Server) { s.URL = "https://h" }, changes: true},
		{name: "type", change: func(s *Server) { s.Type = "sse" }, changes: true},
		{name: "header name", change: func(s *Server) { s.Headers["I"] = "w" }, changes: true},
		{name: "secret env name", change: func(s *Server) { s.Env["API_KEY"] = "rotated-token-2" }, changes: true},
		// Secrets rotate without invalidating the cached catalogue.
		{name: "header value", change: func(s *Server) { s.Headers["H"] = "Bearer rotated-token-2" }},
		{name: "secret env value", change: func(s *Server) { s.Env["GITHUB_TOKEN"] = "rotated-token-2" }},
		{name: "listed secret value", change: func(s *Server) { s.Env["DB"] = "rotated-password" }},
		{name: "secret in args", change: func(s *Server) {
			s.Env["GITHUB_TOKEN"] = "rotated-token-2"
			s.Args[2] = "--token=rotated-token-2"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			tt.change(s)
			if got := s.Fingerprint(); (got != want) != tt.changes {
				t.Errorf("Fingerprint() after %s = %s, base %s, want changed = %t", tt.name, got, want, tt.changes)
			}
		})
	}
}

func TestFingerprintOfURLLeavesSecretsOut(t *testing.T) {
	fp := func(url string) string { return (&Server{Name: "a", URL: url}).Fingerprint() }
	base := fp("https://user:first-pass@h.example/mcp?key=first-token-1")
	if got := fp("https://user:other-pass@h.example/mcp?key=rotated-token-2"); got != base {
		t.Errorf("Fingerprint() changed with only the url's secrets: %s, was %s", got, base)
	}
	if got := fp("https://user:first-pass@other.example/mcp?key=first-token-1"); got == base {
		t.Errorf("Fingerprint() did not change with the url's host")
	}
}

func TestFingerprintIsStable(t *testing.T) {
	// A literal, so that a change to the encoding, which would make every
	// cached catalogue look stale, is a deliberate one.
	s := &Server{Command: "npx", Args: []string{"-y", "pkg"}, Env: map[string]string{"K": "v"}}
	if got, want := s.Fingerprint(), "85c4fcbf5e8fa002"; got != want {
		t.Errorf("Fingerprint() = %q, want %q", got, want)
	}
}

func TestToolAllowed(t *testing.T) {
	tests := []struct {
		name        string
		allow, deny []string
		tool        string
		want        bool
	}{
		{name: "no filter", tool: "anything", want: true},
		{name: "allowed by pattern", allow: []string{"list_*"}, tool: "list_issues", want: true},
		{name: "not allowed", allow: []string{"list_*"}, tool: "create_issue", want: false},
		{name: "denied", deny: []string{"delete_*"}, tool: "delete_repo", want: false},
		{name: "deny wins over allow", allow: []string{"*"}, deny: []string{"push"}, tool: "push", want: false},
		{name: "odd name matched literally", allow: []string{"get weather (beta)"}, tool: "get weather (beta)", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{Tools: ToolFilter{Allow: tt.allow, Deny: tt.deny}}
			if got := s.ToolAllowed(tt.tool); got != tt.want {
				t.Errorf("ToolAllowed(%q) with allow %q, deny %q = %t, want %t", tt.tool, tt.allow, tt.deny, got, tt.want)
			}
		})
	}
}
