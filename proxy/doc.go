// Package proxy is the one MCP server that the client sees.
//
// A [Server] merges the catalogues of many upstream servers into one, with
// namespaced names (see [AssignNames]), answers the client's lists from that
// merged view, and routes every request to the [Upstream] that owns the tool
// by its original name. What an upstream sends passes through as raw JSON,
// byte for byte: only the name of each entry is rewritten.
//
// The handshake and the protocol's housekeeping (initialize, server/discover,
// ping) are served by mcp-go's server; the methods that carry upstream data
// are served here, so that mcp-go's typed structs cannot drop what they do
// not know.
package proxy
