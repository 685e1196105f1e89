package main

// Hand-written JSON sent verbatim (modulo whitespace), with fields and
// keywords that typed MCP libraries tend to drop.

// echoToolDef is the tools/list entry of echo. Its inputSchema uses
// $schema, a top-level description, anyOf, additionalProperties:false and
// format; the tool also has an outputSchema, a title, a custom annotation,
// _meta and an unknown top-level field.
const echoToolDef = `{
  "name": "echo",
  "title": "Echo",
  "description": "Echoes arguments.message back",
  "inputSchema": {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "description": "Arguments of echo",
    "properties": {
      "message": {"type": "string", "description": "Text to echo"},
      "email": {"type": "string", "format": "email"}
    },
    "anyOf": [{"required": ["message"]}, {"required": ["email"]}],
    "additionalProperties": false
  },
  "outputSchema": {
    "type": "object",
    "properties": {"echoed": {"type": "string"}},
    "required": ["echoed"]
  },
  "annotations": {"readOnlyHint": true, "x-custom-hint": "kept"},
  "_meta": {"com.example/kept": {"a": 1}},
  "x-future-field": [1, 2, 3]
}`

// weirdContentResult is the result of weird_content: every content type,
// an unknown one, result-level _meta and structuredContent, and an unknown
// result field.
const weirdContentResult = `{
  "content": [
    {"type": "text", "text": "plain text"},
    {"type": "image", "mimeType": "image/png",
     "data": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="},
    {"type": "audio", "mimeType": "audio/wav",
     "data": "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA="},
    {"type": "resource_link", "uri": "test://weird/link", "name": "link", "mimeType": "text/plain"},
    {"type": "resource", "resource": {"uri": "test://weird/embedded", "mimeType": "text/plain", "text": "embedded text"}},
    {"type": "hologram", "data": "xyz", "_meta": {"k": "v"}}
  ],
  "structuredContent": {"kind": "weird", "count": 6},
  "_meta": {"com.example/result": {"b": 2}},
  "x-extra": true
}`
