package registry

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"time"
)

// Transports, as returned by [Server.Transport].
const (
	TransportStdio = "stdio" // a child process spoken to over stdin and stdout
	TransportSSE   = "sse"   // the HTTP+SSE transport of MCP 2024-11-05
	TransportHTTP  = "http"  // the streamable HTTP transport
)

// ExposedPrefix returns the prefix of the server's tools and prompts: Prefix
// if set (possibly "", meaning none), else Name.
func (s *Server) ExposedPrefix() string {
	if s.Prefix != nil {
		return *s.Prefix
	}
	return s.Name
}

// Transport returns how the server is reached: [TransportStdio],
// [TransportSSE] or [TransportHTTP]. An explicit Type wins, in any of the
// spellings Claude Code and Cursor files use ("streamable-http",
// "streamableHttp", "http"; case is ignored); otherwise a server with a
// Command is stdio and one with a URL is HTTP. It returns "" for an unknown
// Type or a server with neither Command nor URL.
func (s *Server) Transport() string {
	switch strings.ToLower(s.Type) {
	case "stdio":
		return TransportStdio
	case "sse":
		return TransportSSE
	case "http", "streamable-http", "streamablehttp":
		return TransportHTTP
	case "":
		switch {
		case s.Command != "":
			return TransportStdio
		case s.URL != "":
			return TransportHTTP
		}
	}
	return ""
}

// RequestTimeout returns the bound of each request: Timeout, or
// [DefaultTimeout] if unset.
func (s *Server) RequestTimeout() time.Duration {
	return orDefault(s.Timeout, DefaultTimeout)
}

// StartBound returns how long starting, initialising and listing the server
// may take: StartTimeout, or [DefaultStartTimeout] if unset.
func (s *Server) StartBound() time.Duration {
	return orDefault(s.StartTimeout, DefaultStartTimeout)
}

// BackoffPolicy returns the reconnect policy with defaults filled in: the
// first delay ([DefaultBackoffInitial]), the cap ([DefaultBackoffMax]) and
// the failures in a row after which to give up (0, meaning never).
func (s *Server) BackoffPolicy() (initial, max time.Duration, maxAttempts int) {
	initial = orDefault(s.Backoff.Initial, DefaultBackoffInitial)
	max = orDefault(s.Backoff.Max, DefaultBackoffMax)
	if s.Backoff.MaxAttempts > 0 {
		maxAttempts = s.Backoff.MaxAttempts
	}
	return initial, max, maxAttempts
}

// HealthPolicy returns the liveness policy with defaults filled in: the
// interval between pings ([DefaultHealthInterval]; 0 if health checks are
// disabled by a negative Interval) and how many may fail in a row
// ([DefaultHealthThreshold]).
func (s *Server) HealthPolicy() (interval time.Duration, threshold int) {
	interval = orDefault(s.HealthCheck.Interval, DefaultHealthInterval)
	if s.HealthCheck.Interval < 0 {
		interval = 0
	}
	threshold = s.HealthCheck.Threshold
	if threshold <= 0 {
		threshold = DefaultHealthThreshold
	}
	return interval, threshold
}

// IdleAfter returns how long a lazy server may go without calls before it
// is stopped: IdleTimeout, or [DefaultIdleTimeout] if unset.
func (s *Server) IdleAfter() time.Duration {
	return orDefault(s.IdleTimeout, DefaultIdleTimeout)
}

// orDefault returns d, or def if d is not positive.
func orDefault(d Duration, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d.Std()
}

// Fingerprint identifies what the server is and how it is reached: a short
// hex digest of its command, args, cwd, url, transport, the names of its env
// entries and headers, and the values of env entries that are not secrets.
// It is stable across runs and changes when any of those does, but not with
// settings that only shape mcpmux's behaviour (prefix, timeouts, backoff,
// health checks, disabled, lazy), and not when only a secret changes: a
// rotated token keeps the cached catalogue. No secret goes into the digest:
// header values and secret env values ([Server.IsSecretEnv]) are left out,
// and every secret value ([Server.SecretValues]) that stands in the
// command, args, cwd or url is replaced by a placeholder first.
func (s *Server) Fingerprint() string {
	secrets := s.SecretValues()
	scrub := func(v string) string {
		for _, sec := range secrets { // longest first
			v = strings.ReplaceAll(v, sec, "\x00secret\x00")
		}
		return v
	}
	h := fingerprinter{sha256.New()}
	h.str("mcpmux server fingerprint v2")
	h.str(scrub(s.Command))
	h.num(len(s.Args))
	for _, a := range s.Args {
		h.str(scrub(a))
	}
	h.num(len(s.Env))
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		h.str(k)
		if s.IsSecretEnv(k) {
			h.str("\x00secret\x00")
		} else {
			h.str(scrub(s.Env[k]))
		}
	}
	h.str(scrub(s.Cwd))
	h.str(scrub(s.URL))
	h.str(s.Transport())
	h.strs(slices.Sorted(maps.Keys(s.Headers)))
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// fingerprinter writes values to a hash unambiguously: every string and
// count is preceded by its length, so that no two sequences of values write
// the same bytes.
type fingerprinter struct{ hash.Hash }

func (h fingerprinter) num(n int) {
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(n)))
}

func (h fingerprinter) str(s string) {
	h.num(len(s))
	io.WriteString(h, s)
}

func (h fingerprinter) strs(ss []string) {
	h.num(len(ss))
	for _, s := range ss {
		h.str(s)
	}
}

// ToolAllowed reports whether the server's tool named name is exposed,
// according to the server's tool filter.
func (s *Server) ToolAllowed(name string) bool {
	if len(s.Tools.Allow) > 0 && !matchAny(s.Tools.Allow, name) {
		return false
	}
	return !matchAny(s.Tools.Deny, name)
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
