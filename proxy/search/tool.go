package search

import (
	"cmp"
	"encoding/json"
	"strings"
)

// ToolText is what the index reads of a tool's definition.
type ToolText struct {
	Title, Description string
	// Params are the parameters' names and descriptions, nested ones
	// included, as text; never the raw schema.
	Params string
}

// maxParamDepth bounds how deep into nested schemas Params looks.
const maxParamDepth = 3

// ParseTool reads a tool definition (the object tools/list gives). What
// does not parse is left empty.
func ParseTool(raw json.RawMessage) ToolText {
	var fast struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		InputSchema *node  `json:"inputSchema"`
		Annotations struct {
			Title string `json:"title"`
		} `json:"annotations"`
	}
	if json.Unmarshal(raw, &fast) == nil {
		var b strings.Builder
		fast.InputSchema.write(&b, 0)
		return ToolText{Title: cmp.Or(fast.Title, fast.Annotations.Title), Description: fast.Description, Params: b.String()}
	}
	// A schema of unusual shape (a description that is not a string, an
	// array of items): read what can be read, member by member.
	var t struct {
		Title       string          `json:"title"`
		Description string          `json:"description"`
		InputSchema json.RawMessage `json:"inputSchema"`
		Annotations struct {
			Title string `json:"title"`
		} `json:"annotations"`
	}
	_ = json.Unmarshal(raw, &t)
	var b strings.Builder
	params(&b, t.InputSchema, 0)
	title := t.Title
	if title == "" {
		title = t.Annotations.Title
	}
	return ToolText{Title: title, Description: t.Description, Params: b.String()}
}

// schema is the part of a JSON schema that params reads.
type schema struct {
	Description string                     `json:"description"`
	Properties  map[string]json.RawMessage `json:"properties"`
	Items       json.RawMessage            `json:"items"`
}

// params writes the names and descriptions of raw's properties to b.
func params(b *strings.Builder, raw json.RawMessage, depth int) {
	if len(raw) == 0 || depth > maxParamDepth {
		return
	}
	var s schema
	if json.Unmarshal(raw, &s) != nil {
		return
	}
	if depth > 0 && s.Description != "" {
		b.WriteString(s.Description)
		b.WriteString(". ")
	}
	for name, p := range s.Properties {
		b.WriteString(name)
		b.WriteString(": ")
		params(b, p, depth+1)
	}
	params(b, s.Items, depth+1)
}

// node is a JSON schema as ParseTool reads it in one pass.
type node struct {
	Description string           `json:"description"`
	Properties  map[string]*node `json:"properties"`
	Items       *node            `json:"items"`
}

// write writes the names and descriptions of n's properties to b.
func (n *node) write(b *strings.Builder, depth int) {
	if n == nil || depth > maxParamDepth {
		return
	}
	if depth > 0 && n.Description != "" {
		b.WriteString(n.Description)
		b.WriteString(". ")
	}
	for name, p := range n.Properties {
		b.WriteString(name)
		b.WriteString(": ")
		p.write(b, depth+1)
	}
	n.Items.write(b, depth+1)
}
