package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

// toolFunc runs one tools/call. Returning (nil, nil) after the request was
// cancelled means no response is sent.
type toolFunc func(r *request, c *toolCall) (any, *rpcError)

// tool is one catalogue entry; def is its exact tools/list JSON.
type tool struct {
	name string
	def  json.RawMessage
	run  toolFunc
}

// toolCall is the params of tools/call.
type toolCall struct {
	Name      string                     `json:"name"`
	Arguments map[string]json.RawMessage `json:"arguments"`
	Meta      struct {
		ProgressToken json.RawMessage `json:"progressToken"`
	} `json:"_meta"`
}

type textContent struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type toolResult struct {
	Content           []textContent `json:"content"`
	StructuredContent any           `json:"structuredContent,omitempty"`
	IsError           bool          `json:"isError,omitempty"`
}

func newText(text string) textContent { return textContent{Type: "text", Text: text} }

func textResult(text string) toolResult { return toolResult{Content: []textContent{newText(text)}} }

func errorResult(text string) toolResult {
	return toolResult{Content: []textContent{newText(text)}, IsError: true}
}

// Input schemas of the plain tools.
const (
	schemaNone    = `{"type":"object"}`
	schemaMessage = `{"type":"object","properties":{"message":{"type":"string"}}}`
	schemaAdd     = `{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"]}`
	schemaSlow    = `{"type":"object","properties":{"ms":{"type":"integer"}}}`
	schemaBig     = `{"type":"object","properties":{"bytes":{"type":"integer"}}}`
	schemaEnv     = `{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`
	schemaLog     = `{"type":"object","properties":{"level":{"type":"string"},"data":{}}}`
)

// oddNames are the extra tools of -odd-names.
var oddNames = []string{
	"get weather (beta)",
	"fs.read/file",
	"créer_événement",
	strings.Repeat("a", 100),
	"emoji_🚀",
	"get_weather",
	"dup-name",
}

func newTool(name, description, schema string, run toolFunc) *tool {
	def := mustJSON(struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		InputSchema json.RawMessage `json:"inputSchema"`
	}{name, description, json.RawMessage(schema)})
	return &tool{name: name, def: def, run: run}
}

// buildCatalogue fills the tool list according to the flags.
func (s *server) buildCatalogue() {
	s.addTools(&tool{name: "echo", def: json.RawMessage(echoToolDef), run: s.toolEcho})
	s.addTools(s.basicTools()...)
	if s.cfg.oddNames {
		for _, name := range oddNames {
			s.addTools(nameTool(name))
		}
	}
	for i := range s.cfg.tools {
		s.addTools(nameTool(fmt.Sprintf("tool_%04d", i)))
	}
	if s.cfg.hostile {
		s.addTools(s.hostileTools()...)
	}
	if s.cfg.metaTool {
		s.addTools(newTool("meta", "Returns the params of its call as received", schemaNone, func(r *request, _ *toolCall) (any, *rpcError) {
			return textResult(string(r.msg.Params)), nil
		}))
	}
}

func (s *server) basicTools() []*tool {
	return []*tool{
		newTool("add", "Adds a and b", schemaAdd, toolAdd),
		newTool("slow", "Sleeps ms milliseconds, reporting progress", schemaSlow, s.toolSlow),
		newTool("fail", "Returns a tool error result", schemaNone, toolFail),
		newTool("error", "Returns a JSON-RPC error", schemaNone, toolError),
		newTool("weird_content", "Returns every content type, and an unknown one", schemaNone, toolWeirdContent),
		newTool("big", "Returns a text of the given number of bytes", schemaBig, toolBig),
		newTool("whoami", "Returns the server name", schemaNone, s.toolWhoami),
		newTool("crash", "Exits the server with code 3", schemaNone, toolCrash),
		newTool("hang", "Never answers", schemaNone, toolHang),
		newTool("env", "Returns an environment variable", schemaEnv, toolEnv),
		newTool("cwd", "Returns the working directory", schemaNone, toolCwd),
		newTool("count", "Returns how many tools/call requests came before this one", schemaNone, toolCount),
		newTool("sample", "Asks the client to sample a message", schemaNone, s.toolSample),
		newTool("elicit", "Asks the client to elicit a name", schemaNone, s.toolElicit),
		newTool("roots", "Asks the client for its roots", schemaNone, s.toolRoots),
		newTool("log", "Sends a log notification", schemaLog, s.toolLog),
		newTool("cancelled", "Lists the request ids of cancellations received", schemaNone, s.toolCancelled),
		newTool("list_changed", "Adds a tool and notifies tools/list_changed", schemaNone, s.toolListChanged),
	}
}

// nameTool is an echo-like tool whose result text is its own name.
func nameTool(name string) *tool {
	return newTool(name, "Returns its own name", schemaMessage, func(*request, *toolCall) (any, *rpcError) {
		return textResult(name), nil
	})
}

func (s *server) addTools(tools ...*tool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range tools {
		s.tools = append(s.tools, t)
		s.toolIndex[t.name] = t
	}
}

func (s *server) toolsList(r *request) (any, *rpcError) {
	defer s.listing()()
	if !sleepCtx(r.ctx, s.cfg.slowList) {
		return nil, nil
	}
	s.mu.Lock()
	defs := make([]json.RawMessage, len(s.tools))
	for i, t := range s.tools {
		defs[i] = t.def
	}
	defs = append(defs, s.file.Tools...)
	late := s.cfg.lateTools > 0 && !s.listedTools
	s.listedTools = true
	s.mu.Unlock()
	if late {
		r.after = func() {
			for i := range s.cfg.lateTools {
				s.addTools(nameTool(fmt.Sprintf("late_%04d", i)))
			}
			s.notify("notifications/tools/list_changed", nil)
		}
	}
	return listPage(s, r, "tools", defs)
}

func (s *server) toolsCall(r *request) (any, *rpcError) {
	var c toolCall
	if err := decodeParams(r.msg.Params, &c); err != nil {
		return nil, err
	}
	s.mu.Lock()
	t := s.toolIndex[c.Name]
	s.mu.Unlock()
	if t == nil {
		t = s.fileTool(c.Name)
	}
	if t == nil {
		return nil, invalidParams("unknown tool: %s", c.Name)
	}
	return t.run(r, &c)
}

// str returns the string argument key, or "" if absent or not a string.
func (c *toolCall) str(key string) string {
	var v string
	_ = json.Unmarshal(c.Arguments[key], &v)
	return v
}

// num returns the numeric argument key and whether it is a number.
func (c *toolCall) num(key string) (float64, bool) {
	var v float64
	err := json.Unmarshal(c.Arguments[key], &v)
	return v, err == nil
}

// integer returns the numeric argument key as an int, or def if absent.
func (c *toolCall) integer(key string, def int) int {
	if v, ok := c.num(key); ok {
		return int(v)
	}
	return def
}
