package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/registry"
)

// maxPages bounds how many pages of one list mcpmux follows, against an
// upstream whose cursors never end.
const maxPages = 10_000

// catalogue reads everything the upstream offers, following every list to
// its end. Lists the upstream did not declare a capability for are skipped;
// so is one whose method it answers as unknown (-32601), although it
// declared the capability: servers that declare resources for their
// templates alone are common, and the rest of their catalogue is good.
func (c *conn) catalogue(ctx context.Context) (*registry.Catalogue, error) {
	var caps struct {
		Tools     json.RawMessage `json:"tools"`
		Prompts   json.RawMessage `json:"prompts"`
		Resources json.RawMessage `json:"resources"`
	}
	if len(c.init.Capabilities) > 0 {
		if err := json.Unmarshal(c.init.Capabilities, &caps); err != nil {
			return nil, fmt.Errorf("decoding capabilities: %w", err)
		}
	}
	cat := &registry.Catalogue{
		ProtocolVersion: c.init.ProtocolVersion,
		ServerInfo:      c.init.ServerInfo,
		Capabilities:    c.init.Capabilities,
		Instructions:    c.init.Instructions,
	}
	lists := []struct {
		declared json.RawMessage
		method   string
		field    string
		into     *[]json.RawMessage
	}{
		{caps.Tools, "tools/list", "tools", &cat.Tools},
		{caps.Prompts, "prompts/list", "prompts", &cat.Prompts},
		{caps.Resources, "resources/list", "resources", &cat.Resources},
		{caps.Resources, "resources/templates/list", "resourceTemplates", &cat.ResourceTemplates},
	}
	for _, l := range lists {
		if jsonrpc.IsNull(l.declared) {
			continue
		}
		items, err := c.listAll(ctx, l.method, l.field)
		var rpcErr *jsonrpc.Error
		if errors.As(err, &rpcErr) && rpcErr.Code == jsonrpc.CodeMethodNotFound {
			c.logger.Debug("upstream declares the capability but not the method; listing nothing", "method", l.method, "err", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		*l.into = items
	}
	cat.Fetched = time.Now()
	return cat, nil
}

// listAll calls a paginated list method until the upstream stops returning
// a cursor, and returns the raw entries of field from every page.
func (c *conn) listAll(ctx context.Context, method, field string) ([]json.RawMessage, error) {
	var all []json.RawMessage
	seen := map[string]bool{}
	cursor := ""
	for page := 0; page < maxPages; page++ {
		var params json.RawMessage
		if page > 0 {
			params, _ = json.Marshal(map[string]string{"cursor": cursor})
		}
		raw, err := c.request(ctx, method, params)
		if err != nil {
			return nil, fmt.Errorf("calling %s: %w", method, err)
		}
		// raw was checked with the message it came in: one pass finds the
		// members, and one the entries, each a slice of raw.
		var sp [2]jsonrpc.Span
		if err := jsonrpc.Scan(raw, []string{field, "nextCursor"}, sp[:]); err != nil {
			return nil, fmt.Errorf("decoding %s result: %w", method, err)
		}
		items, err := jsonrpc.Elements(sp[0].In(raw))
		if err != nil && sp[0].Found() && !jsonrpc.IsNull(sp[0].In(raw)) {
			return nil, fmt.Errorf("decoding %s result field %q: %w", method, field, err)
		}
		all = append(all, items...)
		next, _ := jsonrpc.String(sp[1].In(raw))
		if next == "" {
			return all, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("calling %s: cursor %q repeats", method, next)
		}
		seen[next] = true
		cursor = next
	}
	return nil, fmt.Errorf("calling %s: more than %d pages", method, maxPages)
}
