package registry

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
)

// prefixPattern is what a [Server.Prefix] may be: short enough to leave room
// for the tool name, and made of characters every MCP client accepts in one.
var prefixPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{0,40}$`)

// fieldError is a problem with one field of one server.
type fieldError struct {
	server string
	field  string // empty when the problem is with the whole entry
	err    error
}

func (e *fieldError) Error() string {
	if e.field == "" {
		return fmt.Sprintf("server %q: %v", e.server, e.err)
	}
	return fmt.Sprintf("server %q: field %q: %v", e.server, e.field, e.err)
}

func (e *fieldError) Unwrap() error { return e.err }

// checker collects the problems of one server, in the order found.
type checker struct {
	server string
	errs   []error
	// skip holds the fields that could not be decoded. Later checks of a
	// skipped field would only repeat its error in other words.
	skip map[string]bool
	// warnings are problems that do not make the entry unusable.
	warnings []error
	// nameLength bounds exposed names (see Config.NameLength); zero means
	// DefaultNameLength.
	nameLength int
}

// nameBound returns the bound of exposed names.
func (ch *checker) nameBound() int {
	if ch.nameLength == 0 {
		return DefaultNameLength
	}
	return ch.nameLength
}

// fail reports a problem with field, unless the field could not be decoded.
func (ch *checker) fail(field, format string, args ...any) {
	if !ch.skip[field] {
		ch.errs = append(ch.errs, &fieldError{ch.server, field, fmt.Errorf(format, args...)})
	}
}

// decodeFail reports that field could not be decoded, and skips its checks.
func (ch *checker) decodeFail(field string, err error) {
	ch.errs = append(ch.errs, &fieldError{ch.server, field, err})
	if ch.skip == nil {
		ch.skip = make(map[string]bool)
	}
	ch.skip[field] = true
}

// expand expands the variable references in *v. If lenient, a reference to
// an unset variable is not an error; *v is then kept as written.
func (ch *checker) expand(field string, v *string, lookupEnv func(string) (string, bool), lenient bool) {
	expanded, errs := expand(*v, lookupEnv)
	for _, err := range errs {
		var unset *unsetVarError
		if lenient && errors.As(err, &unset) {
			continue
		}
		ch.decodeFail(field, err)
	}
	if len(errs) == 0 {
		*v = expanded
	}
}

// check reports the problems of s, which is named ch.server, to ch.
func (s *Server) check(ch *checker) {
	if ch.server == "" {
		ch.fail("", "name must not be empty")
	}
	if s.Name != ch.server {
		ch.fail("", "Name is %q, want the server's key", s.Name)
	}
	s.checkOwn(ch)
	if !s.Disabled {
		s.checkEndpoint(ch)
		checkOAuth(ch, s)
	}
}

// checkOwn checks mcpmux's own settings.
func (s *Server) checkOwn(ch *checker) {
	if s.Prefix != nil && !prefixPattern.MatchString(*s.Prefix) {
		ch.fail("prefix", `must be at most 40 letters, digits, "_" or "-" ("" means no prefix), got %q`, *s.Prefix)
	}
	ch.positive("timeout", s.Timeout)
	ch.positive("startTimeout", s.StartTimeout)
	ch.positive("idleTimeout", s.IdleTimeout)
	ch.positive("backoff.initial", s.Backoff.Initial)
	ch.positive("backoff.max", s.Backoff.Max)
	if initial, limit, _ := s.BackoffPolicy(); limit < initial && !ch.skip["backoff.initial"] {
		got := limit.String()
		if s.Backoff.Max == 0 {
			got += " (the default)"
		}
		ch.fail("backoff.max", "must be at least backoff.initial (%s), got %s", initial, got)
	}
	if n := s.MaxConcurrency; n < 0 {
		ch.fail("maxConcurrency", "must not be negative (0 means no limit), got %d", n)
	}
	if n := s.Backoff.MaxAttempts; n < 0 {
		ch.fail("backoff.maxAttempts", "must not be negative (0 means no limit), got %d", n)
	}
	if n := s.HealthCheck.Threshold; n < 0 {
		ch.fail("healthCheck.threshold", "must not be negative (0 means the default, %d), got %d", DefaultHealthThreshold, n)
	}
	switch s.LogStderr {
	case "", "debug", "info", "warn", "error":
	default:
		ch.fail("logStderr", `must be "debug", "info", "warn" or "error", got %q`, s.LogStderr)
	}
	if err := checkPinning(s.ToolPinning); err != nil {
		ch.fail("toolPinning", "%w", err)
	}
	checkPatterns(ch, "tools.allow", s.Tools.Allow)
	checkPatterns(ch, "tools.deny", s.Tools.Deny)
	s.checkOverrides(ch, "toolOverrides", s.ToolOverrides)
	s.checkOverrides(ch, "promptOverrides", s.PromptOverrides)
}

// checkPatterns reports patterns that path.Match cannot use.
func checkPatterns(ch *checker, field string, patterns []string) {
	for i, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			ch.fail(fmt.Sprintf("%s[%d]", field, i), "is not a valid pattern (see path.Match): %q", p)
		}
	}
}

// positive reports a negative duration; zero means the default.
func (ch *checker) positive(field string, d Duration) {
	if d < 0 {
		ch.fail(field, "must be positive, got %q", d)
	}
}

// checkEndpoint checks what an enabled server needs to be reached: exactly
// one of command and url, a known type that fits it, and a usable url.
func (s *Server) checkEndpoint(ch *checker) {
	if ch.skip["command"] || ch.skip["url"] || ch.skip["type"] {
		return
	}
	switch {
	case s.Command != "" && s.URL != "":
		ch.fail("url", `is set together with "command"; set exactly one of them`)
		return
	case s.Command == "" && s.URL == "":
		ch.fail("command", `is not set, and neither is "url"; set exactly one of them`)
		return
	}
	switch t := s.Transport(); {
	case t == "":
		ch.fail("type", `is %q, want "stdio", "sse" or "http" (or "streamable-http")`, s.Type)
	case t == TransportStdio && s.Command == "":
		ch.fail("type", `is %q, which needs "command", not "url"`, s.Type)
	case t != TransportStdio && s.URL == "":
		ch.fail("type", `is %q, which needs "url", not "command"`, s.Type)
	}
	if s.URL != "" {
		checkURL(ch, s.URL)
	}
}

// checkURL checks that raw is an absolute http or https URL. Its errors do
// not quote raw, nor wrap url.Parse's error, which does: a URL may carry a
// token.
func checkURL(ch *checker, raw string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		ch.fail("url", "is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		ch.fail("url", "must be an absolute http or https URL, got scheme %q", u.Scheme)
	case u.Host == "":
		ch.fail("url", "must be an absolute http or https URL, got no host")
	}
}
