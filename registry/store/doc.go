// Package store is mcpmux's memory across runs: each upstream's last known
// [registry.Catalogue], its connection history, per-tool call statistics
// and the live state of running instances.
//
// The [DB] is backed by Badger, but callers never see a Badger type.
// Badger locks its directory, and several hosts often run mcpmux at once,
// so a serving mcpmux does not hold the store open: a [Recorder] keeps
// what happens in memory and writes it in one batch every few seconds,
// opening the store only for that ([Use] waits its turn on the lock). Each
// serving instance also keeps a small heartbeat file with the live state
// of its upstreams ([Instances]), which `mcpmux status` reads while serve
// runs ([Handle.Summarize], [Handle.History]).
//
// The cached catalogues are also kept in a plain JSON snapshot beside the
// store, which [Recorder.LoadCatalogues] reads in process: serve's first
// list does not wait for a child process to open Badger.
//
// Every use of the store goes through a [Handle], which runs it in a
// short-lived child process ([Child], [ServeChild]): Badger panics on
// goroutines of its own on some damaged files, which no recover can see,
// and a crash or a hang there costs only that use. A store that cannot be
// opened, read, or that crashes or hangs its child is moved aside once
// with one warning, and the next write starts a fresh one.
package store
