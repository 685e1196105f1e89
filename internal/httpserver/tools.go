package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// ProgressInterval is how often slow reports progress.
const ProgressInterval = 20 * time.Millisecond

// addTools registers the tools of a test server:
//
//   - echo {message}: [EchoResult] of the message.
//   - slow {ms}: sleeps ms milliseconds (default 1000), until its context
//     ends or the server closes, and sends progress every
//     [ProgressInterval] if the call has a progressToken.
//   - whoami: the server's name.
//   - notify: adds a tool named "added", which the server announces with
//     notifications/tools/list_changed while the call runs.
//   - sample {message}: asks the client to sample a message (streamable
//     HTTP only; the SSE server cannot) and returns the text of its answer.
func (c *Control) addTools(s *server.MCPServer) {
	s.AddTools(
		server.ServerTool{Tool: mcp.NewTool("echo", mcp.WithString("message")), Handler: echo},
		server.ServerTool{Tool: mcp.NewTool("slow", mcp.WithNumber("ms")), Handler: c.slow},
		server.ServerTool{Tool: mcp.NewTool("whoami"), Handler: c.whoami},
		server.ServerTool{Tool: mcp.NewTool("notify"), Handler: notify},
		server.ServerTool{Tool: mcp.NewTool("sample", mcp.WithString("message")), Handler: sample},
	)
}

// EchoResult is what echo answers: the message as text, and structured
// content whose keys are not in order, which only a result relayed byte
// for byte keeps as it is.
func EchoResult(message string) *mcp.CallToolResult {
	quoted, _ := json.Marshal(message)
	return &mcp.CallToolResult{
		Content:           []mcp.Content{mcp.NewTextContent(message)},
		StructuredContent: json.RawMessage(`{"z":1,"echoed":` + string(quoted) + `,"a":[1,2]}`),
	}
}

func echo(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	return EchoResult(req.GetString("message", "")), nil
}

func (c *Control) whoami(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	return mcp.NewToolResultText(c.name), nil
}

func (c *Control) slow(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	ms := req.GetInt("ms", 1000)
	done := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer done.Stop()
	tick := time.NewTicker(ProgressInterval)
	defer tick.Stop()
	var token mcp.ProgressToken
	if req.Params.Meta != nil {
		token = req.Params.Meta.ProgressToken
	}
	for n := 1; ; n++ {
		select {
		case <-done.C:
			return mcp.NewToolResultText(fmt.Sprintf("slept %d ms", ms)), nil
		case <-ctx.Done():
			c.cancelled.Add(1)
			return nil, ctx.Err()
		case <-c.quit:
			return nil, errors.New("server closed")
		case <-tick.C:
			if token != nil {
				_ = server.ServerFromContext(ctx).SendNotificationToClient(ctx, "notifications/progress",
					map[string]any{"progressToken": token, "progress": n})
			}
		}
	}
}

func notify(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	addTool(server.ServerFromContext(ctx), "added")
	return mcp.NewToolResultText("added"), nil
}

// AddTool adds a tool called name, which answers its name, outside any
// request: the server announces it on its clients' GET streams.
func (c *Control) AddTool(name string) { addTool(c.server(), name) }

func addTool(s *server.MCPServer, name string) {
	s.AddTool(mcp.NewTool(name), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText(name), nil
	})
}

func sample(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	//lint:ignore SA1019 mcpmux relays sampling for clients on the handshake-based revisions, where it is not deprecated.
	res, err := server.ServerFromContext(ctx).RequestSampling(ctx, mcp.CreateMessageRequest{
		CreateMessageParams: mcp.CreateMessageParams{
			Messages:  []mcp.SamplingMessage{{Role: mcp.RoleUser, Content: mcp.NewTextContent(req.GetString("message", ""))}},
			MaxTokens: 100,
		},
	})
	if err != nil {
		return mcp.NewToolResultError("sampling: " + err.Error()), nil
	}
	text, ok := mcp.AsTextContent(res.Content)
	if !ok {
		return mcp.NewToolResultError(fmt.Sprintf("sampling answered %T, want text", res.Content)), nil
	}
	return mcp.NewToolResultText(text.Text), nil
}
