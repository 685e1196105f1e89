package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/registry"
	"github.com/mcpmux/mcpmux/upstream"
)

// mcpmux marks the environment of everything it starts, so that an mcpmux
// started by an mcpmux knows it.
const (
	// configIDsEnv holds the IDs of the configurations (see
	// registry.Config.ID) of every mcpmux above, comma-separated.
	configIDsEnv = "MCPMUX_CONFIG_IDS"
	// depthEnv holds how many mcpmux processes are above.
	depthEnv = "MCPMUX_DEPTH"
	// maxDepth is how many mcpmux may run one inside another: a host's
	// mcpmux may serve another configuration's, which may serve a third's.
	maxDepth = 3
)

// errSelf is the refusal of an mcpmux asked to serve, as an upstream, the
// configuration that an mcpmux above it serves.
const errSelf = "this entry is mcpmux itself; remove it from this file"

// ancestry is what the environment says of the mcpmux processes above
// this one.
type ancestry struct {
	ids   []string // their configurations' IDs
	depth int      // how many there are
}

func readAncestry() ancestry {
	var a ancestry
	if v := os.Getenv(configIDsEnv); v != "" {
		a.ids = strings.Split(v, ",")
	}
	a.depth, _ = strconv.Atoi(os.Getenv(depthEnv))
	a.depth = max(a.depth, len(a.ids))
	return a
}

// refusal says why this mcpmux must not serve cfg, or "" if it may.
func (a ancestry) refusal(cfg *registry.Config) string {
	if id := cfg.ID(); id != "" && slices.Contains(a.ids, id) {
		return errSelf
	}
	if a.depth >= maxDepth {
		return fmt.Sprintf("this entry starts mcpmux inside %d others, and at most %d may run one inside another; remove it from this file", a.depth, maxDepth)
	}
	return ""
}

// childEnv returns the marks for the environment of the processes that
// this mcpmux, serving cfg, starts.
func (a ancestry) childEnv(cfg *registry.Config) []string {
	ids := a.ids
	if id := cfg.ID(); id != "" {
		ids = append(slices.Clone(ids), id)
	}
	return []string{configIDsEnv + "=" + strings.Join(ids, ","), depthEnv + "=" + strconv.Itoa(a.depth+1)}
}

// refuse serves the mcpmux above this one: every request it sends gets an
// error with upstream.RefusedCode and reason, which stops it from trying
// again. It returns when stdin closes or ctx ends. It logs at debug level
// only: the mcpmux above reports the refusal, once.
func refuse(ctx context.Context, stdin io.Reader, stdout io.Writer, reason string, logger *slog.Logger) error {
	logger.Debug("refusing to serve", "reason", reason)
	lines := make(chan []byte)
	go func() {
		defer close(lines)
		br := bufio.NewReader(stdin)
		for {
			line, err := br.ReadBytes('\n')
			if len(bytes.TrimSpace(line)) > 0 {
				select {
				case lines <- line:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				return nil
			}
			var m struct {
				ID     json.RawMessage `json:"id"`
				Method string          `json:"method"`
			}
			if json.Unmarshal(line, &m) != nil || m.Method == "" || jsonrpc.IsNull(m.ID) {
				continue // a notification, or not a request at all
			}
			reply, _ := json.Marshal(map[string]any{
				"jsonrpc": "2.0",
				"id":      m.ID,
				"error":   jsonrpc.Error{Code: upstream.RefusedCode, Message: reason},
			})
			if _, err := stdout.Write(append(reply, '\n')); err != nil {
				return nil
			}
		}
	}
}
