package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// decodeServer decodes one "mcpServers" entry named ch.server and expands
// its variable references, reporting problems to ch. The entry is first
// split into its keys and each known key is then decoded on its own, so that
// one bad field does not hide another and every error names its field. Keys
// that are neither Claude Desktop's nor mcpmux's are ignored. It returns nil
// if raw is not an object.
func decodeServer(ch *checker, raw json.RawMessage, lookupEnv func(string) (string, bool)) *Server {
	if kind := jsonrpc.Kind(raw); kind != "an object" {
		ch.fail("", "must be an object, got %s", kind)
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		ch.fail("", "decoding: %w", err)
		return nil
	}
	s := &Server{Name: ch.server}
	s.decodeOwn(ch, fields)
	s.decodeClaude(ch, fields)
	s.expand(ch, lookupEnv)
	ch.nearMisses(fields)
	return s
}

// serverKeys are the keys of a server entry that mcpmux reads.
var serverKeys = []string{
	"command", "args", "env", "cwd", "url", "type", "headers", "envFile",
	"disabled", "prefix", "timeout", "startTimeout", "lazy", "idleTimeout", "maxConcurrency",
	"backoff", "healthCheck", "tools", "secrets", "logStderr", "toolOverrides", "promptOverrides", "oauth", "alwaysList", "toolPinning",
}

// nearMisses warns of the keys of an entry that mcpmux does not read but
// that are one edit away from one it does ("comand", "disable", "tool"):
// a typo that would otherwise be ignored, as unknown keys are.
func (ch *checker) nearMisses(fields map[string]json.RawMessage) {
	for _, key := range slices.Sorted(maps.Keys(fields)) {
		if slices.Contains(serverKeys, key) {
			continue
		}
		if near := Closest(key, serverKeys, 1); near != "" {
			ch.warnings = append(ch.warnings, &fieldError{ch.server, key, fmt.Errorf("is not a key mcpmux reads, and is ignored; did you mean %q?", near)})
		}
	}
}

// decodeClaude decodes the fields Claude Desktop defines.
func (s *Server) decodeClaude(ch *checker, fields map[string]json.RawMessage) {
	decodeField(ch, fields, "command", &s.Command, "a string")
	decodeStrings(ch, fields, "args", &s.Args)
	decodeStringMap(ch, fields, "env", &s.Env)
	decodeField(ch, fields, "cwd", &s.Cwd, "a string")
	decodeField(ch, fields, "url", &s.URL, "a string")
	decodeField(ch, fields, "type", &s.Type, "a string")
	decodeStringMap(ch, fields, "headers", &s.Headers)
	decodeField(ch, fields, "envFile", &s.EnvFile, "a string") // VS Code's
}

// decodeOwn decodes mcpmux's own settings.
func (s *Server) decodeOwn(ch *checker, fields map[string]json.RawMessage) {
	decodeField(ch, fields, "disabled", &s.Disabled, "true or false")
	decodeField(ch, fields, "prefix", &s.Prefix, "a string")
	decodeField(ch, fields, "timeout", &s.Timeout, "")
	decodeField(ch, fields, "startTimeout", &s.StartTimeout, "")
	decodeField(ch, fields, "lazy", &s.Lazy, "true or false")
	decodeField(ch, fields, "idleTimeout", &s.IdleTimeout, "")
	decodeField(ch, fields, "maxConcurrency", &s.MaxConcurrency, "an integer")

	backoff := decodeObject(ch, fields, "backoff", "initial", "max", "maxAttempts")
	decodeField(ch, backoff, "backoff.initial", &s.Backoff.Initial, "")
	decodeField(ch, backoff, "backoff.max", &s.Backoff.Max, "")
	decodeField(ch, backoff, "backoff.maxAttempts", &s.Backoff.MaxAttempts, "an integer")

	health := decodeObject(ch, fields, "healthCheck", "interval", "threshold")
	decodeField(ch, health, "healthCheck.interval", &s.HealthCheck.Interval, "")
	decodeField(ch, health, "healthCheck.threshold", &s.HealthCheck.Threshold, "an integer")

	tools := decodeObject(ch, fields, "tools", "allow", "deny")
	decodeStrings(ch, tools, "tools.allow", &s.Tools.Allow)
	decodeStrings(ch, tools, "tools.deny", &s.Tools.Deny)
	s.ToolOverrides = decodeOverrides(ch, fields, "toolOverrides", overrideKeys)
	s.PromptOverrides = decodeOverrides(ch, fields, "promptOverrides", overrideKeys[:3])

	decodeStrings(ch, fields, "secrets", &s.SecretEnv)
	decodeField(ch, fields, "logStderr", &s.LogStderr, "a string")
	s.decodeOAuth(ch, fields)
	decodeField(ch, fields, "alwaysList", &s.AlwaysList, "true or false")
	decodeField(ch, fields, "toolPinning", &s.ToolPinning, "a string")
}

// decodeField decodes the value of field, if present, into dst. The key
// looked up in fields is the last dot-separated part of field.
func decodeField[T any](ch *checker, fields map[string]json.RawMessage, field string, dst *T, want string) {
	if raw, ok := fields[field[strings.LastIndexByte(field, '.')+1:]]; ok {
		decodeValue(ch, field, raw, dst, want)
	}
}

// decodeValue decodes raw into dst. want describes the expected JSON type
// for a type mismatch; errors of a custom decoder (such as Duration's) are
// reported as they are. Neither ever quotes the value.
func decodeValue[T any](ch *checker, field string, raw json.RawMessage, dst *T, want string) {
	err := json.Unmarshal(raw, dst)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
	case errors.As(err, &typeErr):
		ch.decodeFail(field, fmt.Errorf("must be %s, got %s", want, jsonrpc.Kind(raw)))
	default:
		ch.decodeFail(field, err)
	}
}

// decodeStrings decodes an array of strings element by element, so that an
// error names the element ("args[2]").
func decodeStrings(ch *checker, fields map[string]json.RawMessage, field string, dst *[]string) {
	var elems []json.RawMessage
	decodeField(ch, fields, field, &elems, "an array of strings")
	if len(elems) == 0 {
		return
	}
	values := make([]string, len(elems))
	for i, raw := range elems {
		decodeValue(ch, fmt.Sprintf("%s[%d]", field, i), raw, &values[i], "a string")
	}
	*dst = values
}

// decodeStringMap decodes an object of strings value by value, so that an
// error names the key ("env.GITHUB_TOKEN").
func decodeStringMap(ch *checker, fields map[string]json.RawMessage, field string, dst *map[string]string) {
	var raws map[string]json.RawMessage
	decodeField(ch, fields, field, &raws, "an object of strings")
	if len(raws) == 0 {
		return
	}
	values := make(map[string]string, len(raws))
	for _, key := range slices.Sorted(maps.Keys(raws)) {
		var v string
		decodeValue(ch, field+"."+key, raws[key], &v, "a string")
		values[key] = v
	}
	*dst = values
}

// decodeObject returns the keys of the object under field, which is one of
// mcpmux's own and so may contain only the known keys.
func decodeObject(ch *checker, fields map[string]json.RawMessage, field string, known ...string) map[string]json.RawMessage {
	var obj map[string]json.RawMessage
	decodeField(ch, fields, field, &obj, "an object")
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		if !slices.Contains(known, key) {
			ch.decodeFail(field+"."+key, fmt.Errorf("unknown key (want %s)", strings.Join(known, ", ")))
		}
	}
	return obj
}

// expand expands the variable references in the fields that may contain
// them. In a disabled server, a string that refers to an unset variable is
// kept as written and is not an error.
func (s *Server) expand(ch *checker, lookupEnv func(string) (string, bool)) {
	lookup := func(name string) (string, bool) {
		v, ok := lookupEnv(name)
		if ok && IsSecretName(name) {
			s.expandedSecrets = append(s.expandedSecrets, v)
		}
		return v, ok
	}
	ex := func(field string, v *string) { ch.expand(field, v, lookup, s.Disabled) }
	ex("command", &s.Command)
	for i := range s.Args {
		ex(fmt.Sprintf("args[%d]", i), &s.Args[i])
	}
	expandMap(ex, "env", s.Env)
	ex("cwd", &s.Cwd)
	ex("envFile", &s.EnvFile)
	ex("url", &s.URL)
	expandMap(ex, "headers", s.Headers)
}

// expandMap expands the values of m, in the order of their keys.
func expandMap(ex func(field string, v *string), field string, m map[string]string) {
	for _, key := range slices.Sorted(maps.Keys(m)) {
		v := m[key]
		ex(field+"."+key, &v)
		m[key] = v
	}
}
