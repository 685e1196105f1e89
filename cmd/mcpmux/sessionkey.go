package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mcpmux/mcpmux/internal/sessiontoken"
)

// readSessionKeys reads serve --http's session keys: the file
// --session-key-file names, else $MCPMUX_SESSION_KEY; none leaves every
// session on the process that opened it. It returns the ring and the keys'
// text, for the masker. Errors name the file or the variable, never a key.
func readSessionKeys(file string, http bool) (*sessiontoken.Keys, []string, error) {
	text, from := os.Getenv("MCPMUX_SESSION_KEY"), "MCPMUX_SESSION_KEY"
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, fmt.Errorf("--session-key-file: %w", err)
		}
		text, from = string(b), "--session-key-file "+file
	}
	switch {
	case strings.TrimSpace(text) == "":
		if file != "" {
			return nil, nil, fmt.Errorf("%s: no session key given (make one with: openssl rand -base64 32)", from)
		}
		return nil, nil, nil
	case !http:
		if file != "" {
			return nil, nil, errors.New("--session-key-file: only with --http (a stdio session has one process)")
		}
		return nil, nil, nil // the variable may be set for the HTTP replicas of a shared environment
	}
	keys, err := sessiontoken.Parse(text)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", from, err)
	}
	var secrets []string
	for _, f := range strings.Fields(strings.ReplaceAll(text, ",", " ")) {
		if len(f) >= sessiontoken.MinKeyLength { // a key, not a comment's word
			secrets = append(secrets, f)
		}
	}
	return keys, secrets, nil
}
