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
// requests by the upstream's own names. Requests, results, notifications
// and the upstream's own requests travel as raw JSON so that nothing the
// upstream sends is lost on the way.
//
// Inside, the [Supervisor] makes a new conn for every attempt: one MCP
// session, from the handshake to its death. A conn is built from a
// transport, which moves messages, and a peer, which knows the upstream's
// kind:
//
//   - stdio: [stdioPeer] owns the child [process] and reads its stdout;
//     [stdioTransport] writes requests to its stdin and matches their
//     answers.
//   - remote: [remotePeer] owns the HTTP client and the server's secrets;
//     [streamableTransport] or [sseTransport] (both built on [httpBase])
//     post messages and read what comes back.
//
// Whatever the kind, what the upstream sends goes to conn.dispatch, which
// hands responses to the [waiters] of mcpmux's requests, notifications to
// a [noteQueue], and the upstream's own requests to Options.OnRequest
// (incoming.go). The file names say the rest: catalogue.go reads the
// catalogue, health.go pings, idle.go stops a lazy upstream.
//
// Every transport is the package's own: stdio's ([stdioTransport]), the
// streamable HTTP client ([streamableTransport]) and the HTTP+SSE client
// ([sseTransport]). mcp-go's cannot be configured to do what a proxy must:
// its stdio transport costs each response extra hand-offs and decodings,
// its streamable HTTP client cuts each request of the server's off after a
// hard 30s (an elicitation that a person answers later fails), its SSE
// client drops the server's requests, and its remote clients decode what
// the server sends and encode it again, losing key order and integers
// above 2^53. Every message travels as a raw JSON-RPC line
// ([internal/jsonrpc]) behind the package's own [transport] interface;
// of mcp-go, only the protocol's version constants and
// [mcp.Implementation] remain.
package upstream
