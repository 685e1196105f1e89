// Package upstream keeps one upstream MCP server connected.
//
// A [Supervisor] owns a single server from the configuration: it starts the
// child process of a stdio server or connects to a remote one (streamable
// HTTP or the older HTTP+SSE), performs the MCP handshake, reads the
// complete catalogue, serves requests on the live connection, and notices
// when the connection dies: the child exits or closes its stdout, a write
// to it fails, the remote server forgets the session or cannot be reached,
// the SSE stream ends, or health-check pings go unanswered. It then
// reconnects with capped exponential backoff and jitter, and reads the
// catalogue again. A request that never reached the upstream (its session
// had expired, say) is sent once more on the new connection. A request
// that finds the upstream in backoff asks for an attempt at once. A lazy
// supervisor starts its upstream on first use and stops it again when it
// falls idle. Its [State] can be read at any time with [Supervisor.Status].
//
// The package knows nothing about other upstreams or about exposed names: it
// reports what happens through the callbacks in [Options] and answers
// requests by the upstream's own names. Requests and results travel as raw
// JSON so that nothing the upstream sends is lost on the way. (Remote
// upstreams' notifications and requests to mcpmux are the exception:
// mcp-go decodes them before mcpmux sees them.)
package upstream
