package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/mcpmux/mcpmux/internal/atomicfile"
	"github.com/mcpmux/mcpmux/registry"
)

// The snapshot is a copy of the cached catalogues in a plain JSON file
// beside the store, "catalogues.json" in the data directory: serve reads
// it in its own process at start-up, in a millisecond, where reading the
// store takes a child process and Badger's opening of its files (tens of
// milliseconds, more on a busy machine). The store keeps the catalogues
// too, for status and for a snapshot that is missing or unreadable.
//
// It holds what the store holds of a catalogue, the upstream's data and
// the hash of its server's configuration, never a secret. Every reader
// takes it for hostile: a file that is too large, or that does not decode
// in full, is ignored.
const snapshotName = "catalogues.json"

// snapshotVersion is the snapshot's format; a file of another is ignored.
const snapshotVersion = 1

// maxSnapshotSize bounds the snapshot: larger files are not read, and
// catalogues that would make it larger are left out (the store serves
// them).
var maxSnapshotSize = 64 << 20

func snapshotPath(dataDir string) string { return filepath.Join(dataDir, snapshotName) }

// snapshotFile is the snapshot's shape.
type snapshotFile struct {
	Version    int                        `json:"version"`
	Catalogues map[string]json.RawMessage `json:"catalogues"`
}

// readSnapshot returns the catalogues of the snapshot in dataDir, keyed by
// server name, each as stored. A snapshot that does not exist wraps
// fs.ErrNotExist; one that cannot be used in full is an error: nothing of
// it is used.
func readSnapshot(dataDir string) (_ map[string]json.RawMessage, err error) {
	defer func() {
		// The decoder is Go's own and does not panic on input; if it ever
		// did, a snapshot is only a cache.
		if r := recover(); r != nil {
			err = fmt.Errorf("reading %s: decoder panicked: %v", snapshotName, r)
		}
	}()
	f, err := os.Open(snapshotPath(dataDir))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(maxSnapshotSize)+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", snapshotName, err)
	case len(data) > maxSnapshotSize:
		return nil, fmt.Errorf("reading %s: larger than %d bytes", snapshotName, maxSnapshotSize)
	}
	var snap snapshotFile
	if err := json.Unmarshal(data, &snap); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", snapshotName, err)
	}
	if snap.Version != snapshotVersion {
		return nil, fmt.Errorf("decoding %s: version %d, want %d", snapshotName, snap.Version, snapshotVersion)
	}
	if snap.Catalogues == nil {
		snap.Catalogues = make(map[string]json.RawMessage)
	}
	return snap.Catalogues, nil
}

// snapshotCatalogues decodes the catalogues of servers from snap, leaving
// out those read with another configuration, and returns the names of the
// servers snap has no usable catalogue of. A catalogue that does not
// decode counts as missing.
func snapshotCatalogues(snap map[string]json.RawMessage, servers []*registry.Server) (map[string]*registry.Catalogue, []*registry.Server) {
	out := make(map[string]*registry.Catalogue)
	var missing []*registry.Server
	for _, srv := range servers {
		raw, ok := snap[srv.Name]
		var c registry.Catalogue
		if !ok || json.Unmarshal(raw, &c) != nil {
			missing = append(missing, srv)
			continue
		}
		if c.Fingerprint == srv.Fingerprint() {
			out[srv.Name] = &c
		}
	}
	return out, missing
}

// writeSnapshot puts cats into the snapshot in dataDir, over what it
// holds, and replaces the file atomically: readers see the old snapshot or
// the new one. A snapshot that cannot be read is replaced by cats alone.
// Writers of one data directory take turns (see withSnapshotLock), so that
// two instances do not drop each other's catalogues.
func writeSnapshot(dataDir string, cats map[string]registry.Catalogue) error {
	if len(cats) == 0 {
		return nil
	}
	return withSnapshotLock(dataDir, func() error {
		snap, err := readSnapshot(dataDir)
		if err != nil {
			snap = make(map[string]json.RawMessage)
		}
		var errs []error
		for name, c := range cats {
			data, err := marshalCatalogue(c)
			if err != nil {
				errs = append(errs, fmt.Errorf("encoding catalogue of %q: %w", name, err))
				delete(snap, name)
				continue
			}
			snap[name] = data
		}
		data := encodeSnapshot(snap)
		return errors.Join(errors.Join(errs...), atomicfile.Write(snapshotPath(dataDir), data, 0o600))
	})
}

// encodeSnapshot encodes snap, its servers sorted by name, leaving out
// the catalogues that would make it larger than maxSnapshotSize.
func encodeSnapshot(snap map[string]json.RawMessage) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"version":%d,"catalogues":{`, snapshotVersion)
	first := true
	for _, name := range slices.Sorted(maps.Keys(snap)) {
		key, _ := json.Marshal(name) // a string always encodes
		if b.Len()+len(key)+len(snap[name])+4 > maxSnapshotSize {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(key)
		b.WriteByte(':')
		b.Write(snap[name])
	}
	b.WriteString("}}\n")
	return b.Bytes()
}

// isNotExist reports whether err says a file is not there.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
