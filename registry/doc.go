// Package registry owns what mcpmux reads from and writes to disk: the
// configuration file, decoded into a [Config] of upstream [Server] entries,
// and the persistent [Store] that keeps each upstream's last known
// [Catalogue]. The configuration keeps Claude Desktop's
// claude_desktop_config.json shape, so a user's existing file works as is;
// [Load] and [Parse] expand ${VAR} references and check every entry, and a
// [Server] answers the questions the rest of mcpmux asks of it
// ([Server.Transport], [Server.RequestTimeout], [Server.Fingerprint], ...)
// with defaults filled in. The store is backed by Badger, but callers never
// see a Badger type: they deal only in this package's own types.
package registry
