// Package bench measures what mcpmux costs a client, side by side with
// what the same client gets without it.
//
// Its benchmarks (all in this one package, so that one `go test -bench`
// run measures them together) speak to three targets in turn, through
// the same lean client over real pipes:
//
//   - direct: the upstream itself;
//   - relay: a minimal line relay in front of it ([testutil.RelayLines]),
//     the floor of any stdio proxy;
//   - mcpmux: mcpmux in this process (so that -benchmem counts its
//     allocations), in front of the upstream.
//
// The upstreams are the Go test server (internal/testserver) and the real
// npm server-everything. Further benchmarks measure mcpmux's merge of 100
// upstreams' catalogues, a tools/list of 10,000 tools, the official
// TypeScript SDK client's calls (through the mcpmux binary), mcpmux's
// resident memory and its start-up CPU, the last two beside those of an
// older mcpmux binary if $MCPMUX_BENCH_BASELINE names one. The package
// has no code outside its tests; README.md (Performance) gives the
// commands.
package bench
