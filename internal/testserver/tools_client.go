package main

import (
	"encoding/json"
	"strings"
)

// Tools that talk back to the client: server-to-client requests and log
// notifications.

var sampleParams = map[string]any{
	"messages":  []promptMessage{{Role: "user", Content: newText("What is the capital of France?")}},
	"maxTokens": 100,
}

var elicitParams = map[string]any{
	"message":         "Please provide your name",
	"requestedSchema": json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`),
}

// callClient sends a request to the client. It returns the result, or a
// tool result to return instead (nil if the call was cancelled).
func (s *server) callClient(r *request, method string, params any) (json.RawMessage, any) {
	resp := s.clientRequest(r.ctx, method, params)
	if resp == nil {
		return nil, nil
	}
	if resp.Error != nil {
		return nil, errorResult(method + " failed: " + resp.Error.Message)
	}
	return resp.Result, nil
}

func (s *server) toolSample(r *request, _ *toolCall) (any, *rpcError) {
	result, alt := s.callClient(r, "sampling/createMessage", sampleParams)
	if result == nil {
		return alt, nil
	}
	var res struct {
		Content json.RawMessage `json:"content"`
	}
	_ = json.Unmarshal(result, &res)
	return textResult(contentText(res.Content)), nil
}

// contentText returns the text of a content block or array of blocks.
func contentText(raw json.RawMessage) string {
	var one textContent
	if json.Unmarshal(raw, &one) == nil {
		return one.Text
	}
	var many []textContent
	_ = json.Unmarshal(raw, &many)
	texts := make([]string, 0, len(many))
	for _, c := range many {
		texts = append(texts, c.Text)
	}
	return strings.Join(texts, "")
}

// toolElicit returns {"action":..., "content":...} of the client's answer.
func (s *server) toolElicit(r *request, _ *toolCall) (any, *rpcError) {
	result, alt := s.callClient(r, "elicitation/create", elicitParams)
	if result == nil {
		return alt, nil
	}
	var res struct {
		Action  string          `json:"action"`
		Content json.RawMessage `json:"content,omitempty"`
	}
	_ = json.Unmarshal(result, &res)
	return textResult(string(mustJSON(res))), nil
}

// toolRoots returns the raw result of roots/list.
func (s *server) toolRoots(r *request, _ *toolCall) (any, *rpcError) {
	result, alt := s.callClient(r, "roots/list", nil)
	if result == nil {
		return alt, nil
	}
	return textResult(string(result)), nil
}

// toolLog sends notifications/message with arguments.level and .data.
func (s *server) toolLog(_ *request, c *toolCall) (any, *rpcError) {
	level := c.str("level")
	if level == "" {
		level = "info"
	}
	data := c.Arguments["data"]
	if data == nil {
		data = json.RawMessage(`"hello from testserver"`)
	}
	s.notify("notifications/message", map[string]any{"level": level, "logger": "testserver", "data": data})
	return textResult("logged"), nil
}
