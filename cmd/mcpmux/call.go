package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/internal/local"
	"github.com/mcpmux/mcpmux/internal/mux"
	"github.com/mcpmux/mcpmux/registry"
)

// errToolFailed is call's failure when the tool itself reports an error;
// its result went to stdout.
var errToolFailed = errors.New("the tool reported an error (isError)")

// runCall calls one tool of the merged catalogue, as a client would, and
// prints the result.
func runCall(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var c commonFlags
	var dir dataDirFlag
	fs := newFlagSet("call", stdout, &c)
	dir.register(fs)
	arguments := fs.String("args", "{}", "the tool's arguments, a JSON `OBJECT`")
	asJSON := fs.Bool("json", false, "print the whole result as JSON, not its text content")
	names, err := parseArgs(fs, "call", args, 1)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return &usageError{"call", "name the tool to call, as mcpmux tools lists it"}
	}
	if jsonrpc.Kind([]byte(*arguments)) != "an object" || !json.Valid([]byte(*arguments)) {
		return &usageError{"call", fmt.Sprintf("--args must be a JSON object, such as '{\"message\": \"hi\"}', got %s", jsonrpc.Kind([]byte(*arguments)))}
	}
	cfg, logger, masker, err := setupMasked(&c, stderr)
	if err != nil {
		return err
	}
	defer c.close()
	reportConfig(cfg, logger)
	k, stopKeeper := startKeeper(ctx, stderr, logger)
	defer stopKeeper(false)
	p := newProgress(stderr, len(cfg.Enabled()), "ready")
	defer p.done()
	cfg.ToolMode = registry.ToolModeFull // the catalogue itself, not search mode's three tools
	m := mux.New(cfg, mux.Options{Logger: logger, Version: version(), Headless: true, Groups: groups(k), Env: readAncestry().childEnv(cfg), Upstream: upstreamProgress(p),
		OAuth: newOAuth(personPresent(stdin, stderr), stderr, logger, masker), Masker: masker, PinsDir: pinsDir(dir, logger)})
	cl, err := local.Start(ctx, m)
	if err != nil {
		return err
	}
	defer cl.Close()
	params := map[string]any{"name": names[0], "arguments": json.RawMessage(*arguments)}
	res, err := cl.Request(ctx, "tools/call", params)
	cl.Close()
	if err != nil {
		return fmt.Errorf("calling %s: %w", names[0], mux.Masker(cfg).Error(err))
	}
	if *asJSON {
		err = printJSON(stdout, res)
	} else {
		err = printResult(stdout, res)
	}
	if err != nil {
		return err
	}
	var r struct {
		IsError bool `json:"isError"`
	}
	if json.Unmarshal(res, &r) == nil && r.IsError {
		return errToolFailed
	}
	return nil
}

// printResult writes a tool's result for a person: the text of each text
// content, each other content as JSON on a line of its own, and the
// structured content if there is no text.
func printResult(w io.Writer, res json.RawMessage) error {
	var r struct {
		Content    []json.RawMessage `json:"content"`
		Structured json.RawMessage   `json:"structuredContent"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return fmt.Errorf("decoding the result: %w", err)
	}
	var b strings.Builder
	texts := 0
	for _, c := range r.Content {
		if kind, _ := jsonrpc.StringMember(c, "type"); kind == "text" {
			text, _ := jsonrpc.StringMember(c, "text")
			b.WriteString(strings.TrimSuffix(text, "\n") + "\n")
			texts++
			continue
		}
		b.Write(c)
		b.WriteByte('\n')
	}
	if texts == 0 && len(r.Structured) > 0 && !jsonrpc.IsNull(r.Structured) {
		b.Write(r.Structured)
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
