package proxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"sort"
)

// listTools answers tools/list from the merged catalogue.
func (s *Server) listTools(_ context.Context, params json.RawMessage) (json.RawMessage, error) {
	cat := s.cat.Load()
	page, next, err := paginate(cat.tools, params, s.opts.PageSize)
	if err != nil {
		return nil, err
	}
	return listResult("tools", page, next), nil
}

// callTool routes tools/call to the tool's upstream under its original
// name. Arguments, _meta and the result pass through unchanged.
func (s *Server) callTool(ctx context.Context, params json.RawMessage) (json.RawMessage, error) {
	name, ok := stringMember(params, "name")
	if !ok {
		return nil, errorf(codeInvalidParams, "tools/call needs a tool name")
	}
	t, ok := s.cat.Load().tool(name)
	if !ok {
		return nil, errorf(codeInvalidParams, "unknown tool %q", name)
	}
	params, err := withString(params, "name", t.original)
	if err != nil {
		return nil, errorf(codeInvalidParams, "tools/call params: %s", err)
	}
	s.logger.Debug("tool call", "tool", name, "upstream", t.server)
	return s.upstreamCall(ctx, t, "tools/call", params)
}

// paginate returns the page of entries that the request's cursor asks for,
// and the cursor of the next page ("" for the last). The cursor is the
// exposed name the previous page ended with, so it stays valid when the
// catalogue changes between pages.
func paginate(entries []entry, params json.RawMessage, size int) (page []entry, next string, err error) {
	cursor, _ := stringMember(params, "cursor")
	start := 0
	if cursor != "" {
		last, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil {
			return nil, "", errorf(codeInvalidParams, "invalid cursor %q", cursor)
		}
		start = sort.Search(len(entries), func(i int) bool { return entries[i].exposed > string(last) })
	}
	end := len(entries)
	if size > 0 && start+size < end {
		end = start + size
		next = base64.RawURLEncoding.EncodeToString([]byte(entries[end-1].exposed))
	}
	return entries[start:end], next, nil
}

// listResult renders a list result with the entries' raw objects.
func listResult(field string, page []entry, next string) json.RawMessage {
	var b bytes.Buffer
	b.WriteString(`{"` + field + `":[`)
	for i, e := range page {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e.raw)
	}
	b.WriteString("]")
	if next != "" {
		b.WriteString(`,"nextCursor":`)
		b.Write(quote(next))
	}
	b.WriteString("}")
	return b.Bytes()
}

// ToolInfo describes one tool of the merged catalogue.
type ToolInfo struct {
	// Name is the name the client sees.
	Name string `json:"name"`
	// Server is the upstream's name in the configuration.
	Server string `json:"server"`
	// Original is the upstream's own name for the tool.
	Original string `json:"original"`
	// Description is the tool's description as the upstream wrote it.
	Description string `json:"description,omitempty"`
}

// Tools returns the merged tool catalogue, sorted by exposed name.
func (s *Server) Tools() []ToolInfo {
	cat := s.cat.Load()
	out := make([]ToolInfo, 0, len(cat.tools))
	for _, t := range cat.tools {
		desc, _ := stringMember(t.raw, "description")
		out = append(out, ToolInfo{Name: t.exposed, Server: t.server, Original: t.original, Description: desc})
	}
	return out
}
