package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/registry"
)

// serveMetaCall answers a call of one of search mode's tools, named
// name, with its arguments args (nil for none).
func (s *Server) serveMetaCall(v *view, name string, args json.RawMessage) (json.RawMessage, error) {
	switch name {
	case searchToolsName:
		return s.searchTools(v, args), nil
	case describeToolsName:
		return s.describeTools(v, args), nil
	}
	return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "call_tool cannot call call_tool")
}

// searchHit is one tool of search_tools' structured result.
type searchHit struct {
	Name        string  `json:"name"`
	Server      string  `json:"server"`
	Tool        string  `json:"tool"`
	Description string  `json:"description"`
	Score       float64 `json:"score"`
}

// maxHitDescription bounds a hit's description, in bytes.
const maxHitDescription = 600

// searchTools answers search_tools.
func (s *Server) searchTools(v *view, args json.RawMessage) json.RawMessage {
	var in struct {
		Query  *string `json:"query"`
		Limit  *int    `json:"limit"`
		Server string  `json:"server"`
	}
	if err := json.Unmarshal(orEmpty(args), &in); err != nil {
		return toolResult("search_tools: invalid arguments: "+err.Error()+`; expected {"query": string, "limit"?: integer, "server"?: string}`, nil, true)
	}
	if in.Query == nil || strings.TrimSpace(*in.Query) == "" {
		return toolResult(`search_tools: "query" is required: say in a few words what you want to do`, nil, true)
	}
	limit := defaultSearchLimit
	if in.Limit != nil {
		if *in.Limit < 1 {
			return toolResult(fmt.Sprintf(`search_tools: "limit" must be from 1 to %d, got %d`, maxSearchLimit, *in.Limit), nil, true)
		}
		limit = min(*in.Limit, maxSearchLimit)
	}
	if in.Server != "" && s.route(in.Server) == nil {
		msg := fmt.Sprintf("search_tools: no server %q", in.Server)
		if near := registry.Closest(in.Server, s.serverNames(), 3); near != "" {
			msg += fmt.Sprintf("; did you mean %q?", near)
		}
		return toolResult(msg+"; servers: "+strings.Join(s.serverNames(), ", "), nil, true)
	}
	keep := func(name, server string) bool { return in.Server == "" || server == in.Server }
	if v.profile != nil {
		keep = func(name, server string) bool {
			_, ok := v.all.get(name)
			return ok && (in.Server == "" || server == in.Server)
		}
	}
	hits := s.index.SearchFunc(*in.Query, limit, keep)
	out := struct {
		Tools []searchHit `json:"tools"`
	}{Tools: make([]searchHit, 0, len(hits))}
	var text strings.Builder
	for _, h := range hits {
		e, ok := v.all.get(h.Name)
		if !ok {
			continue
		}
		desc, _ := jsonrpc.StringMember(e.raw, "description")
		out.Tools = append(out.Tools, searchHit{Name: h.Name, Server: h.Server, Tool: h.Tool, Description: truncate(desc, maxHitDescription), Score: math.Round(h.Score*1000) / 1000})
		fmt.Fprintf(&text, "%s: %s %s\n", h.Name, firstSentence(desc), signature(e.raw))
	}
	if len(out.Tools) == 0 {
		text.WriteString("No tool matches; try other words, or fewer.")
	}
	structured, _ := json.Marshal(out)
	return toolResult(strings.TrimSuffix(text.String(), "\n"), structured, false)
}

// describeTools answers describe_tools.
func (s *Server) describeTools(v *view, args json.RawMessage) json.RawMessage {
	var in struct {
		Names []string `json:"names"`
	}
	if err := json.Unmarshal(orEmpty(args), &in); err != nil || in.Names == nil {
		return toolResult(`describe_tools: invalid arguments; expected {"names": [string]}, at most 10 names`, nil, true)
	}
	if len(in.Names) > maxDescribe {
		return toolResult(fmt.Sprintf("describe_tools: at most %d names at once, got %d", maxDescribe, len(in.Names)), nil, true)
	}
	b := []byte(`{"tools":[`)
	var unknown []string
	found := 0
	for _, name := range in.Names {
		e, ok := v.all.get(s.resolveTool(v.all, name))
		if !ok {
			unknown = append(unknown, unknownTool(v.all, name))
			continue
		}
		if found > 0 {
			b = append(b, ',')
		}
		b = append(b, e.raw...)
		found++
	}
	b = append(b, "]}"...)
	text := string(b)
	if len(unknown) > 0 {
		text = strings.Join(unknown, "\n") + "\n" + text
	}
	return toolResult(text, b, found == 0 && len(unknown) > 0)
}

// unknownTool is the message for a tool name that names nothing.
func unknownTool(l list, name string) string {
	msg := "unknown tool " + string(jsonrpc.Quote(name))
	if near := closest(l, name); len(near) > 0 {
		msg += "; did you mean " + quoteList(near) + "?"
	}
	return msg
}

// resolveTool returns the exposed name that name stands for: itself, or
// the tool of a server written server/tool or server:tool (the server by
// its configuration name or its prefix, the tool by the upstream's name
// or the one an override gives it). A name it cannot resolve is returned
// as it is, or as prefix__tool if the server is known, for the caller to
// report unknown (or wait for the server's catalogue).
func (s *Server) resolveTool(tools list, name string) string {
	if _, ok := tools.get(name); ok {
		return name
	}
	i := strings.IndexAny(name, "/:")
	if i <= 0 || i == len(name)-1 {
		return name
	}
	server, tool := name[:i], name[i+1:]
	r := s.route(server)
	if r == nil {
		for _, o := range s.routes() {
			if o.cfg.ExposedPrefix() == server {
				r = o
				break
			}
		}
	}
	if r == nil {
		return name
	}
	plain := plainName(NameEntry{Server: r.cfg.Name, Prefix: r.cfg.ExposedPrefix(), Original: tool})
	if e, ok := tools.get(plain); ok && e.server == r.cfg.Name {
		return plain
	}
	for _, e := range tools.entries() {
		if e.server == r.cfg.Name && (e.original == tool || strings.HasSuffix(e.key, nameSep+tool)) {
			return e.key
		}
	}
	return plain
}

// serverNames returns the configured servers' names, sorted.
func (s *Server) serverNames() []string {
	var out []string
	for _, r := range s.routes() {
		out = append(out, r.cfg.Name)
	}
	return out
}

func orEmpty(args json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(args)) == 0 || jsonrpc.IsNull(args) {
		return json.RawMessage("{}")
	}
	return args
}

// firstSentence returns the description's first sentence, on one line,
// at most 200 bytes.
func firstSentence(desc string) string {
	desc = strings.Join(strings.Fields(desc), " ")
	for i := 0; i < len(desc); i++ {
		switch c := desc[i]; {
		case c == '.' && (i+1 == len(desc) || desc[i+1] == ' '):
			return truncate(desc[:i+1], 200)
		case c == 0xE3 && strings.HasPrefix(desc[i:], "。"):
			return truncate(desc[:i+len("。")], 200)
		}
	}
	return truncate(desc, 200)
}

// truncate cuts s to at most n bytes, at a character's start, marking the
// cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// maxSignature is how many parameters a signature shows.
const maxSignature = 8

// signature renders a tool's parameters as "(path*: string, limit?:
// integer)", in the schema's order, required ones starred.
func signature(raw json.RawMessage) string {
	schema, err := jsonrpc.Member(raw, "inputSchema")
	if err != nil || schema == nil {
		return "()"
	}
	var s struct {
		Properties json.RawMessage `json:"properties"`
		Required   []string        `json:"required"`
	}
	if json.Unmarshal(schema, &s) != nil {
		return "()"
	}
	required := map[string]bool{}
	for _, r := range s.Required {
		required[r] = true
	}
	var parts []string
	n := 0
	eachMember(s.Properties, func(name string, v json.RawMessage) {
		n++
		if n > maxSignature {
			return
		}
		mark := "?"
		if required[name] {
			mark = "*"
		}
		parts = append(parts, name+mark+": "+schemaType(v))
	})
	if n > maxSignature {
		parts = append(parts, fmt.Sprintf("… %d more", n-maxSignature))
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// schemaType is a property schema's type in a word: "string",
// "string|null", "array", or "any".
func schemaType(v json.RawMessage) string {
	var t struct {
		Type json.RawMessage `json:"type"`
	}
	if json.Unmarshal(v, &t) != nil || t.Type == nil {
		return "any"
	}
	var one string
	if json.Unmarshal(t.Type, &one) == nil {
		return one
	}
	var many []string
	if json.Unmarshal(t.Type, &many) == nil && len(many) > 0 {
		return strings.Join(many, "|")
	}
	return "any"
}

// eachMember calls f with the members of the JSON object obj, in order.
func eachMember(obj json.RawMessage, f func(name string, v json.RawMessage)) {
	d := json.NewDecoder(bytes.NewReader(obj))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return
	}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return
		}
		name, _ := t.(string)
		var v json.RawMessage
		if d.Decode(&v) != nil {
			return
		}
		f(name, v)
	}
}

// callToolKeys are the members of call_tool's arguments.
var callToolKeys = []string{"name", "arguments"}

// unwrapCall turns a call of call_tool into the direct call of the tool it
// names, in m and p: the name and arguments of the request become those
// of call_tool's arguments, every other byte of the request unchanged
// (its _meta, with a progress token, included). So the call takes the
// path of any direct call, with its routing, filters, timeouts,
// cancellation, progress and the upstream's requests, and its result is
// the upstream's, unchanged. Other requests are left as they are.
func (sess *session) unwrapCall(m *jsonrpc.Message, p *params) *jsonrpc.Error {
	if name, ok := p.str(keyRoute); !ok || name != callToolName || !sess.serveMeta(name) {
		return nil
	}
	args := p.get(keyOther)
	var sp [2]jsonrpc.Span
	if args == nil || jsonrpc.Scan(args, callToolKeys, sp[:]) != nil {
		return jsonrpc.Errorf(jsonrpc.CodeInvalidParams, `call_tool: invalid arguments; expected {"name": string, "arguments"?: object}`)
	}
	name, ok := jsonrpc.String(sp[0].In(args))
	if !ok || name == "" {
		return jsonrpc.Errorf(jsonrpc.CodeInvalidParams, `call_tool: "name" must be the name of a tool, as search_tools gives it`)
	}
	if name == callToolName {
		return jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "call_tool cannot call call_tool")
	}
	inner := sp[1].In(args)
	switch {
	case inner == nil || jsonrpc.IsNull(inner):
		inner = json.RawMessage("{}")
	case jsonrpc.Kind(inner) != "an object":
		return jsonrpc.Errorf(jsonrpc.CodeInvalidParams, `call_tool: "arguments" must be an object, got %s`, jsonrpc.Kind(inner))
	}
	exposed := sess.srv.resolveTool(sess.view().all, name)
	// The arguments come after the name or before it: replace the later
	// first, so that the earlier's span still holds.
	raw := p.raw
	argSpan, nameSpan := p.spans[keyOther], p.spans[keyRoute]
	if argSpan.Start > nameSpan.Start {
		raw = jsonrpc.Replace(jsonrpc.Replace(raw, argSpan, inner), nameSpan, jsonrpc.Quote(exposed))
	} else {
		raw = jsonrpc.Replace(jsonrpc.Replace(raw, nameSpan, jsonrpc.Quote(exposed)), argSpan, inner)
	}
	np, err := readParams(m.Method, raw)
	if err != nil {
		return err
	}
	m.Params, *p = raw, np
	return nil
}
