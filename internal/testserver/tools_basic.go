package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// progressInterval is how often slow reports progress.
const progressInterval = 50 * time.Millisecond

func (s *server) toolEcho(_ *request, c *toolCall) (any, *rpcError) {
	msg := c.str("message")
	return toolResult{
		Content:           []textContent{newText(msg)},
		StructuredContent: map[string]string{"echoed": msg},
	}, nil
}

func toolAdd(_ *request, c *toolCall) (any, *rpcError) {
	a, okA := c.num("a")
	b, okB := c.num("b")
	if !okA || !okB {
		return errorResult("add: a and b must be numbers"), nil
	}
	return textResult(strconv.FormatFloat(a+b, 'f', -1, 64)), nil
}

// toolSlow sleeps arguments.ms (default 1000) milliseconds, sending
// progress every progressInterval when the call has a progressToken: all
// ms/progressInterval of them, even if the machine is too busy to keep
// time, so that a test can count on them.
func (s *server) toolSlow(r *request, c *toolCall) (any, *rpcError) {
	ms := c.integer("ms", 1000)
	total := 0
	if c.Meta.ProgressToken != nil {
		total = ms / int(progressInterval/time.Millisecond)
	}
	done := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer done.Stop()
	tick := time.NewTicker(progressInterval)
	defer tick.Stop()
	slept := false
	for n := 1; ; {
		if slept && n > total {
			return textResult(fmt.Sprintf("slept %d ms", ms)), nil
		}
		select {
		case <-r.ctx.Done():
			return nil, nil
		case <-done.C:
			slept = true
		case <-tick.C:
			if n <= total {
				s.sendProgress(c.Meta.ProgressToken, n, total)
				n++
			}
		}
	}
}

func (s *server) sendProgress(token json.RawMessage, progress, total int) {
	s.notify("notifications/progress", map[string]any{
		"progressToken": token,
		"progress":      progress,
		"total":         total,
	})
}

func toolFail(*request, *toolCall) (any, *rpcError) {
	return errorResult("this tool always fails"), nil
}

func toolError(*request, *toolCall) (any, *rpcError) {
	return nil, newError(codeToolFailed, "tool failed on purpose")
}

func toolWeirdContent(*request, *toolCall) (any, *rpcError) {
	return json.RawMessage(weirdContentResult), nil
}

// toolBig returns arguments.bytes (default 10 MiB) of 'x'.
func toolBig(_ *request, c *toolCall) (any, *rpcError) {
	return textResult(strings.Repeat("x", c.integer("bytes", 10<<20))), nil
}

func (s *server) toolWhoami(*request, *toolCall) (any, *rpcError) {
	return textResult(s.cfg.name), nil
}

// toolCrash exits with code 3, after writing arguments.stderr (with $VAR
// references expanded from the environment) to stderr.
func toolCrash(_ *request, c *toolCall) (any, *rpcError) {
	if text := c.str("stderr"); text != "" {
		fmt.Fprintln(os.Stderr, os.ExpandEnv(text))
	}
	os.Exit(3)
	return nil, nil
}

func toolHang(*request, *toolCall) (any, *rpcError) {
	select {}
}

func toolEnv(_ *request, c *toolCall) (any, *rpcError) {
	return textResult(os.Getenv(c.str("name"))), nil
}

func toolCwd(*request, *toolCall) (any, *rpcError) {
	dir, err := os.Getwd()
	if err != nil {
		return errorResult(err.Error()), nil
	}
	return textResult(dir), nil
}

// toolCount returns how many tools/call requests were received before this one.
func toolCount(r *request, _ *toolCall) (any, *rpcError) {
	return textResult(strconv.Itoa(r.seq - 1)), nil
}

// toolCancelled lists the raw requestId of every notifications/cancelled
// received so far, in order.
func (s *server) toolCancelled(*request, *toolCall) (any, *rpcError) {
	s.mu.Lock()
	ids := append([]json.RawMessage{}, s.cancelled...)
	s.mu.Unlock()
	return textResult(string(mustJSON(ids))), nil
}

// toolListChanged adds tool added_<n> and notifies, after its response.
func (s *server) toolListChanged(r *request, _ *toolCall) (any, *rpcError) {
	s.mu.Lock()
	s.added++
	name := fmt.Sprintf("added_%d", s.added)
	s.mu.Unlock()
	r.after = func() {
		s.addTools(nameTool(name))
		s.notify("notifications/tools/list_changed", nil)
	}
	return textResult("adding " + name), nil
}
