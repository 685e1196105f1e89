package registry

import (
	"errors"
	"fmt"
	"strings"
)

// This file implements the ${NAME} and ${NAME:-default} references that
// [Parse] expands; the rules are documented there.

// unsetVarError reports a ${NAME} reference to a variable that is not set.
// Disabled servers tolerate it: a user may disable a server precisely because
// its token is not set.
type unsetVarError struct{ name string }

func (e *unsetVarError) Error() string {
	return fmt.Sprintf("variable ${%s} is not set", e.name)
}

// expand returns s with its variable references replaced, looking each up
// with lookupEnv. It reports every bad reference in s, not only the first;
// when it reports any, the returned string is meaningless.
func expand(s string, lookupEnv func(string) (string, bool)) (string, []error) {
	var b strings.Builder
	var errs []error
	for {
		before, ref, found := strings.Cut(s, "${")
		b.WriteString(before)
		if !found {
			return b.String(), errs
		}
		body, rest, closed := strings.Cut(ref, "}")
		if !closed {
			return "", append(errs, errors.New(`"${" without a closing "}"`))
		}
		v, err := resolve(body, lookupEnv)
		if err != nil {
			errs = append(errs, err)
		}
		b.WriteString(v)
		s = rest
	}
}

// resolve returns the value of one reference, given what is between "${"
// and "}".
func resolve(body string, lookupEnv func(string) (string, bool)) (string, error) {
	name, def, hasDefault := strings.Cut(body, ":-")
	if !isVarName(name) {
		return "", fmt.Errorf("malformed variable reference: %q is not a variable name (want ${NAME} or ${NAME:-default})", name)
	}
	if strings.Contains(def, "${") {
		return "", fmt.Errorf("malformed variable reference: the default of ${%s} contains another reference, which is not supported", name)
	}
	v, ok := lookupEnv(name)
	switch {
	case hasDefault && v == "":
		return def, nil
	case !ok:
		return "", &unsetVarError{name: name}
	}
	return v, nil
}

// isVarName reports whether s is a letter or underscore followed by letters,
// digits and underscores.
func isVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
		digit := '0' <= r && r <= '9'
		if !letter && !(digit && i > 0) {
			return false
		}
	}
	return true
}
