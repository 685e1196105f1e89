// Package registry holds mcpmux's configuration and the domain types the
// other packages share.
//
// The configuration file keeps Claude Desktop's claude_desktop_config.json
// shape, so a user's existing file works as is. [Load] and [Parse] decode
// it into a [Config] of upstream [Server] entries, expand ${VAR}
// references and check every entry; a [Server] answers the questions the
// rest of mcpmux asks of it ([Server.Transport], [Server.RequestTimeout],
// [Server.Fingerprint], [Server.SecretValues], ...) with defaults filled
// in. A [Catalogue] is what one upstream offers, as it sent it.
//
// What mcpmux remembers across runs (cached catalogues, history,
// statistics) is kept by package [github.com/mcpmux/mcpmux/registry/store],
// which depends on this one; this package depends on nothing but the
// standard library, so that every other package can use its types without
// pulling in the storage backend.
package registry
