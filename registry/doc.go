// Package registry owns what mcpmux reads from and writes to disk.
//
// The configuration file keeps Claude Desktop's claude_desktop_config.json
// shape, so a user's existing file works as is. [Load] and [Parse] decode
// it into a [Config] of upstream [Server] entries, expand ${VAR}
// references and check every entry; a [Server] answers the questions the
// rest of mcpmux asks of it ([Server.Transport], [Server.RequestTimeout],
// [Server.Fingerprint], ...) with defaults filled in.
//
// The [Store] remembers what happened: each upstream's last known
// [Catalogue], its connection history, per-tool call statistics and a
// discovery cache. It is backed by Badger, but callers never see a Badger
// type. Badger locks its directory, and several hosts often run mcpmux at
// once, so a serving mcpmux does not hold the store open: a [Recorder]
// keeps what happens in memory and writes it in one batch every few
// seconds, opening the store only for that ([UseStore] waits its turn on
// the lock). Each serving instance also keeps a small heartbeat file with
// the live state of its upstreams ([Instances]), which `mcpmux status`
// reads while serve runs.
package registry
