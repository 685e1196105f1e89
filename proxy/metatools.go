package proxy

import (
	"encoding/json"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// The tools of search mode, which mcpmux serves itself.
const (
	searchToolsName   = "search_tools"
	describeToolsName = "describe_tools"
	callToolName      = "call_tool"
)

// Bounds of search mode's tools' inputs.
const (
	defaultSearchLimit = 5
	maxSearchLimit     = 50
	maxDescribe        = 10
)

// metaEntries are the definitions of search mode's tools. Their _meta
// asks hosts that defer tools of their own to keep them loaded.
var metaEntries = []entry{
	metaEntry(searchToolsName, `{"name":"search_tools","title":"Search tools","description":"Search the tools of every MCP server behind mcpmux by what you want to do, in plain words (any language). Returns the best matches, best first: each tool's name (for call_tool), what it does and its parameters. Use describe_tools for a tool's full input schema, then call_tool to run it.","inputSchema":{"type":"object","properties":{"query":{"type":"string","description":"What you want to do, e.g. \"create a GitHub issue\" or \"read a file\"."},"limit":{"type":"integer","minimum":1,"maximum":50,"default":5,"description":"How many tools to return, at most 50."},"server":{"type":"string","description":"Search only the tools of this server (its name in mcpmux's configuration)."}},"required":["query"]},"outputSchema":{"type":"object","properties":{"tools":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"server":{"type":"string"},"tool":{"type":"string"},"description":{"type":"string"},"score":{"type":"number"}},"required":["name","server","tool","description","score"]}}},"required":["tools"]},"annotations":{"readOnlyHint":true,"openWorldHint":false},"_meta":{"anthropic/alwaysLoad":true}}`),
	metaEntry(describeToolsName, `{"name":"describe_tools","title":"Describe tools","description":"Return the full definitions (input schema, annotations) of up to 10 tools found with search_tools, by name.","inputSchema":{"type":"object","properties":{"names":{"type":"array","items":{"type":"string"},"maxItems":10,"description":"Tool names as search_tools gives them (server/tool and server:tool also work)."}},"required":["names"]},"outputSchema":{"type":"object","properties":{"tools":{"type":"array","items":{"type":"object"}}},"required":["tools"]},"annotations":{"readOnlyHint":true,"openWorldHint":false},"_meta":{"anthropic/alwaysLoad":true}}`),
	metaEntry(callToolName, `{"name":"call_tool","title":"Call a tool","description":"Call a tool found with search_tools, by name, with its arguments. Returns exactly what the tool returns.","inputSchema":{"type":"object","properties":{"name":{"type":"string","description":"The tool's name as search_tools gives it (server/tool and server:tool also work)."},"arguments":{"type":"object","description":"The tool's arguments, as its input schema says."}},"required":["name"]},"_meta":{"anthropic/alwaysLoad":true}}`),
}

func metaEntry(name, def string) entry {
	if !json.Valid([]byte(def)) {
		panic("invalid definition of " + name)
	}
	return entry{key: name, original: name, raw: json.RawMessage(def)}
}

// isMeta reports whether name is one of search mode's tools.
func isMeta(name string) bool {
	return name == searchToolsName || name == describeToolsName || name == callToolName
}

// serveMeta reports whether mcpmux serves the tool name itself: in
// search mode, or where no upstream's tool has the name (a client that
// listed search mode's tools before the catalogue shrank under the budget
// may still call them).
func (sess *session) serveMeta(name string) bool {
	if !isMeta(name) {
		return false
	}
	v := sess.view()
	if v.search {
		return true
	}
	_, taken := v.all.get(name)
	return !taken
}

// view returns what the session is shown now (see Server.viewOf).
func (sess *session) view() *view { return sess.srv.viewOf(sess.profile) }

// has reports whether e, a tool of the catalogue, is one of the
// session's profile's.
func (sess *session) has(e entry) bool {
	if sess.profile == "" {
		return true
	}
	_, ok := sess.view().all.get(e.key)
	return ok
}

// toolResult renders a tools/call result of text and structured content.
func toolResult(text string, structured json.RawMessage, isError bool) json.RawMessage {
	b := []byte(`{"content":[{"type":"text","text":`)
	b = jsonrpc.AppendQuote(b, text)
	b = append(b, "}]"...)
	if structured != nil {
		b = append(b, `,"structuredContent":`...)
		b = append(b, structured...)
	}
	if isError {
		b = append(b, `,"isError":true`...)
	}
	return append(b, '}')
}
