// Package e2e tests mcpmux from the outside, as its users run it: the real
// mcpmux binary, built with -race, serves a real MCP client (mcp-go's) over
// stdio, in front of real MCP servers installed from npm (server-everything
// and server-memory, at the versions pinned in internal/testutil) and of
// upstreams that are broken on purpose.
//
// The tests check that what mcpmux relays is byte for byte what the server
// sent, apart from tool names; that clients of both protocol eras work; that
// a broken upstream harms none of the others; and that no process outlives
// mcpmux, whether its client closes stdin or it gets SIGTERM.
// BenchmarkToolCall compares a tool call through mcpmux with the same call
// made directly (MCPMUX_BENCH_NORACE=1 benchmarks a binary built without
// -race). The package holds only tests; they skip without node and npm.
package e2e
