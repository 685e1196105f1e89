// Package upstream keeps one upstream MCP server connected.
//
// A [Supervisor] owns a single server from the configuration: it starts the
// child process (or, later, dials the remote endpoint), performs the MCP
// handshake, reads the complete catalogue, serves requests on the live
// connection, notices when the connection dies, and reconnects with
// exponential backoff. Its [State] can be read at any time with
// [Supervisor.Status].
//
// The package knows nothing about other upstreams or about exposed names: it
// reports what happens through the callbacks in [Options] and answers
// requests by the upstream's own names. Requests and results travel as raw
// JSON so that nothing the upstream sends is lost on the way.
package upstream
