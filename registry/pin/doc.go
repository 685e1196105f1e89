// Package pin decides whether a tool or prompt definition an upstream
// sends may reach the model: it fingerprints definitions, scans them for
// hidden instructions, and keeps the [Book] of what the user approved.
//
// A definition is pinned at first sight: its [Fingerprint], the SHA-256
// of its [Canonical] form, is recorded per configured server. A later
// definition with another fingerprint is a change, which is withheld
// until the user approves it (mcpmux trust); so is a definition that
// [Scan] flags, at first sight or at any later one. New definitions of a
// known server are not changes (servers add tools as a client's
// capabilities allow), but they are scanned.
//
// Everything here is pure: no I/O, no clock, no goroutines. The proxy
// judges definitions as it merges catalogues ([Book.Check]), package
// registry/store keeps the book in the data directory, and mcpmux trust
// approves what is withheld ([Book.Approve]).
package pin
