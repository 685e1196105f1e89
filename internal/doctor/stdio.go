package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcpmux/mcpmux/internal/command"
	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/registry"
)

// allCapabilities is what mcpmux declares to an upstream for a client
// that can sample, elicit and list roots.
var allCapabilities = json.RawMessage(`{"sampling":{},"elicitation":{},"roots":{"listChanged":true}}`)

// probeStdio starts the server's command, times it, and reads its lists,
// once as mcpmux declares itself for a capable client, and, if that
// worked, once more as for a client with no capabilities, to tell the
// tools that only capable clients get.
func probeStdio(ctx context.Context, s *registry.Server, opts Options) *Check {
	c := &Check{Server: s.Name}
	env := childEnv(s, opts.Env)
	if !lookCommand(c, s, env, opts) {
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, s.StartBound())
	defer cancel()
	full, err := session(ctx, s, env, allCapabilities)
	c.Start, c.Initialize, c.List = full.start, full.initialize, full.list
	for _, line := range full.garbage {
		c.add(fmt.Sprintf("writes to stdout before answering initialize: %q", line),
			"stdout carries the protocol: make the server log to stderr (a --quiet or --stdio flag, or a LOG_LEVEL); mcpmux skips such lines")
		break
	}
	if err != nil {
		explainFailure(c, s, full, err)
		return c
	}
	c.tools = allowed(s, toolNames(full.tools))
	c.measure(s, full.tools)
	c.Tools = len(c.tools)
	bare, err := session(ctx, s, env, json.RawMessage(`{}`))
	if err != nil {
		return c // the first session told what there is to tell
	}
	var only []string
	for _, t := range c.tools {
		if !slices.Contains(allowed(s, toolNames(bare.tools)), t) {
			only = append(only, t)
		}
	}
	if len(only) > 0 {
		c.add(fmt.Sprintf("tools offered only to clients that can sample, elicit or list roots: %s", examples(only)),
			"use them from a host that declares those capabilities (mcpmux passes on the host's); with any other they are not listed")
	}
	return c
}

// childEnv is the environment the server's child gets, as mcpmux builds it.
func childEnv(s *registry.Server, extra []string) []string {
	env := os.Environ()
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range s.Env {
			if !yield(k) {
				return
			}
		}
	}) {
		env = append(env, k+"="+s.Env[k])
	}
	return append(env, extra...)
}

// lookCommand reports whether the server's command can be found as the
// child would find it, and explains if not.
func lookCommand(c *Check, s *registry.Server, env []string, opts Options) bool {
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v // the last one wins, as for the child
		}
	}
	look := opts.LookPath
	if look == nil {
		look = func(file, path string) (string, error) { return command.LookPath(file, path, env) }
	}
	if _, err := look(s.Command, path); err != nil {
		if strings.ContainsRune(s.Command, filepath.Separator) {
			c.add(fmt.Sprintf("command %q does not exist or cannot be run", s.Command), "correct the path in \"command\"")
			return false
		}
		c.add(fmt.Sprintf("command %q is not on PATH (%s)", s.Command, orNone(path)), "%s", notFoundFix(s.Command))
		return false
	}
	return true
}

func orNone(path string) string {
	if path == "" {
		return "PATH is empty"
	}
	return "PATH=" + path
}

// explainFailure turns a failed session into a problem and its fix.
func explainFailure(c *Check, s *registry.Server, r *sessionResult, err error) {
	stderr := r.lastStderr()
	if pkg := npxPackage(s); pkg != "" && r.stderrWith("404") != "" {
		c.add(fmt.Sprintf("npx package %s does not exist (npm: %s)", pkg, r.stderrWith("404")),
			"correct the package name in \"args\" (npm view %s tells whether it exists)", pkg)
		return
	}
	what := err.Error()
	if stderr != "" && !strings.Contains(what, stderr) {
		what += ": " + stderr
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		what := fmt.Sprintf("no answer within startTimeout (%s) %s", s.StartBound(), r.stage)
		if stderr != "" {
			what += "; its last line on stderr: " + stderr
		}
		c.add(what,
			"raise \"startTimeout\" for a server that is slow to start (npx -y downloads on first use); else run the command by hand to see what it waits for")
	default:
		c.add(what, "run the command by hand (the same command, args and env) to see why it fails")
	}
}

// npxPackage returns the package an npx command runs, or "".
func npxPackage(s *registry.Server) string {
	if base := filepath.Base(s.Command); base != "npx" && base != "npx.cmd" {
		return ""
	}
	for _, a := range s.Args {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

// sessionResult is what one session with a stdio server saw.
type sessionResult struct {
	start, initialize, list time.Duration
	stage                   string   // what it was doing when it stopped
	garbage                 []string // non-JSON lines before the initialize answer
	tools                   []json.RawMessage

	mu     sync.Mutex
	stderr []string // the last lines of stderr
}

// stderrWith returns the first line of stderr kept that contains s, or "".
func (r *sessionResult) stderrWith(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, line := range r.stderr {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

func (r *sessionResult) lastStderr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.stderr) == 0 {
		return ""
	}
	return r.stderr[len(r.stderr)-1]
}

// session starts the server, initializes it declaring caps, and lists its
// tools, prompts and resources; then stops it and waits until its
// process group is gone.
func session(ctx context.Context, s *registry.Server, env []string, caps json.RawMessage) (*sessionResult, error) {
	r := &sessionResult{stage: "starting"}
	cmd, err := command.New(s.Command, s.Args, env, groupAttr())
	if err != nil {
		return r, fmt.Errorf("starting %q: %w", s.Command, err)
	}
	cmd.Dir = s.Cwd
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return r, err
	}
	// Plain pipes rather than StdoutPipe: Wait would close them as soon
	// as the child exits, before its last words are read.
	stdout, stdoutW, err := os.Pipe()
	if err != nil {
		return r, err
	}
	stderr, stderrW, err := os.Pipe()
	if err != nil {
		stdout.Close()
		stdoutW.Close()
		return r, err
	}
	cmd.Stdout, cmd.Stderr = stdoutW, stderrW
	began := time.Now()
	err = cmd.Start()
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		stdout.Close()
		stderr.Close()
		return r, fmt.Errorf("starting %q: %w", s.Command, err)
	}
	r.start = time.Since(began)
	done := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() { r.readStderr(stderr) })
	lines := make(chan []byte, 16)
	readers.Go(func() {
		defer close(lines)
		jr := jsonrpc.NewReader(stdout, 0)
		for {
			line, err := jr.Next()
			if err != nil && jsonrpc.AsTooLarge(err) == nil {
				return
			}
			if err == nil {
				select {
				case lines <- bytes.Clone(line):
				case <-done:
					return
				}
			}
		}
	})
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		close(done)
		stdin.Close()
		killGroup(cmd)
		<-exited
		stdout.Close() // a grandchild outside the group may hold the pipes
		stderr.Close()
		readers.Wait()
	}()
	c := &stdioClient{w: stdin, lines: lines, r: r}
	err = c.run(ctx, caps)
	return r, err
}

// readStderr keeps the last lines of the child's stderr.
func (r *sessionResult) readStderr(rd io.Reader) {
	buf := make([]byte, 64<<10)
	var rest []byte
	for {
		n, err := rd.Read(buf)
		rest = append(rest, buf[:n]...)
		for {
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				break
			}
			r.noteStderr(string(rest[:i]))
			rest = rest[i+1:]
		}
		if len(rest) > 4096 {
			rest = rest[:0]
		}
		if err != nil {
			r.noteStderr(string(rest))
			return
		}
	}
}

func (r *sessionResult) noteStderr(line string) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	if len(line) > 300 {
		line = line[:300] + "…"
	}
	r.mu.Lock()
	r.stderr = append(r.stderr, line)
	if len(r.stderr) > 20 {
		r.stderr = r.stderr[1:]
	}
	r.mu.Unlock()
}

// stdioClient speaks MCP to one child, just enough to list.
type stdioClient struct {
	w     io.Writer
	lines <-chan []byte
	r     *sessionResult
	id    int
}

func (c *stdioClient) run(ctx context.Context, caps json.RawMessage) error {
	c.r.stage = "before answering initialize"
	began := time.Now()
	params, _ := json.Marshal(map[string]any{
		"protocolVersion": "2025-11-25",
		"capabilities":    caps,
		"clientInfo":      map[string]string{"name": "mcpmux-doctor", "version": "1"},
	})
	init, err := c.request(ctx, "initialize", params, true)
	if err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	c.r.initialize = time.Since(began)
	if _, err := io.WriteString(c.w, string(jsonrpc.AppendNotification(nil, "notifications/initialized", nil))+"\n"); err != nil {
		return err
	}
	var result struct {
		Capabilities map[string]json.RawMessage `json:"capabilities"`
	}
	_ = json.Unmarshal(init, &result)
	c.r.stage = "listing"
	began = time.Now()
	lists := []struct{ capability, method, field string }{
		{"tools", "tools/list", "tools"}, {"prompts", "prompts/list", "prompts"}, {"resources", "resources/list", "resources"},
	}
	for _, l := range lists {
		if _, ok := result.Capabilities[l.capability]; !ok {
			continue
		}
		entries, err := c.list(ctx, l.method, l.field)
		if err != nil {
			return fmt.Errorf("%s: %w", l.method, err)
		}
		if l.field == "tools" {
			c.r.tools = entries
		}
	}
	c.r.list = time.Since(began)
	return nil
}

// list reads every page of a list.
func (c *stdioClient) list(ctx context.Context, method, field string) ([]json.RawMessage, error) {
	var all []json.RawMessage
	cursor := ""
	for range 1000 {
		var params json.RawMessage
		if cursor != "" {
			params, _ = json.Marshal(map[string]string{"cursor": cursor})
		}
		res, err := c.request(ctx, method, params, false)
		if err != nil {
			return nil, err
		}
		var page map[string]json.RawMessage
		if err := json.Unmarshal(res, &page); err != nil {
			return nil, fmt.Errorf("decoding the result: %w", err)
		}
		var entries []json.RawMessage
		_ = json.Unmarshal(page[field], &entries)
		all = append(all, entries...)
		if json.Unmarshal(page["nextCursor"], &cursor) != nil || cursor == "" {
			return all, nil
		}
	}
	return all, nil
}

// request sends a request and waits for its answer, answering the
// server's own requests with an error meanwhile. Lines that are not
// JSON-RPC are noted as garbage if noteGarbage.
func (c *stdioClient) request(ctx context.Context, method string, params json.RawMessage, noteGarbage bool) (json.RawMessage, error) {
	c.id++
	id := json.RawMessage(strconv.Itoa(c.id))
	if _, err := c.w.Write(append(jsonrpc.AppendRequest(nil, id, method, params), '\n')); err != nil {
		return nil, errors.New("the server closed its stdin")
	}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case line, ok := <-c.lines:
			if !ok {
				return nil, errors.New("the server exited")
			}
			m, rpcErr := jsonrpc.Decode(line)
			switch {
			case rpcErr != nil:
				if noteGarbage && len(c.r.garbage) < 3 {
					c.r.garbage = append(c.r.garbage, firstChars(string(line), 120))
				}
			case m.IsRequest():
				refusal := jsonrpc.Errorf(-32601, "mcpmux doctor does not answer %s", m.Method)
				_, _ = c.w.Write(append(jsonrpc.AppendError(nil, m.ID, refusal), '\n'))
			case m.IsResponse() && string(m.ID) == string(id):
				if m.Error != nil {
					return nil, fmt.Errorf("error %d: %s", m.Error.Code, m.Error.Message)
				}
				return m.Result, nil
			}
		}
	}
}

func firstChars(s string, n int) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// allowed returns the tools of names that the server's tool filter
// exposes.
func allowed(s *registry.Server, names []string) []string {
	var out []string
	for _, n := range names {
		if s.ToolAllowed(n) {
			out = append(out, n)
		}
	}
	return out
}
