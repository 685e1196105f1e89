package store

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mcpmux/mcpmux/registry/pin"
)

// The pins, what mcpmux has seen of every server's tool and prompt
// definitions and what the user approved (see registry/pin), live in a
// plain JSON file beside the store, "pins.json" in the data directory,
// not in Badger:
//
//   - serve needs them before its first list, and reads them in process
//     as it reads the snapshot, where the store takes a child process;
//   - a first sight is kept at once (a host may kill mcpmux 100 ms after
//     starting it), where the recorder writes the store every 2 s;
//   - mcpmux trust must reach a running serve within a second: serve
//     watches this one file (internal/watch) and judges its catalogues
//     anew when it changes, with no polling of the store.
//
// Writers (every serve of the data directory, mcpmux trust) take turns
// under a lock file and merge what they learned into what the file holds
// (see pin.Book.Absorb), then replace it atomically. The file holds the
// upstreams' definitions and fingerprints, never a secret.
const pinsName = "pins.json"

// pinsVersion is the file's format; a file of another is not used.
const pinsVersion = 1

// maxPinsSize bounds the pins file; a larger one is not read.
var maxPinsSize = 32 << 20

// PinsPath returns the pins file of the data directory dataDir.
func PinsPath(dataDir string) string { return filepath.Join(dataDir, pinsName) }

// pinsFile is the file's shape.
type pinsFile struct {
	Version int `json:"version"`
	pin.Book
}

// LoadPins reads the pins of the data directory dataDir. A file that does
// not exist is an empty book; one that cannot be used is an error, with
// an empty book.
func LoadPins(dataDir string) (*pin.Book, error) {
	f, err := os.Open(PinsPath(dataDir))
	if isNotExist(err) {
		return &pin.Book{}, nil
	}
	if err != nil {
		return &pin.Book{}, fmt.Errorf("reading %s: %w", pinsName, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(maxPinsSize)+1))
	switch {
	case err != nil:
		return &pin.Book{}, fmt.Errorf("reading %s: %w", pinsName, err)
	case len(data) > maxPinsSize:
		return &pin.Book{}, fmt.Errorf("reading %s: larger than %d bytes", pinsName, maxPinsSize)
	}
	var pf pinsFile
	if err := json.Unmarshal(data, &pf); err != nil {
		return &pin.Book{}, fmt.Errorf("decoding %s: %w", pinsName, err)
	}
	if pf.Version != pinsVersion {
		return &pin.Book{}, fmt.Errorf("decoding %s: version %d, want %d", pinsName, pf.Version, pinsVersion)
	}
	return &pf.Book, nil
}

// UpdatePins runs change on the pins of dataDir, under the lock that
// writers of the file take turns at, and writes what it leaves if it
// returns nil. A file that cannot be used is started afresh. It returns
// the book as written.
func UpdatePins(dataDir string, change func(*pin.Book) error) (*pin.Book, error) {
	var out *pin.Book
	err := withPinsLock(dataDir, func() error {
		b, _ := LoadPins(dataDir) // a damaged file is replaced
		if err := change(b); err != nil {
			return err
		}
		data, err := json.MarshalIndent(pinsFile{Version: pinsVersion, Book: *b}, "", " ")
		if err != nil {
			return fmt.Errorf("encoding %s: %w", pinsName, err)
		}
		out = b
		return replaceFile(PinsPath(dataDir), append(data, '\n'))
	})
	return out, err
}

// SavePins writes what a serving mcpmux's book learned into the pins of
// dataDir (see pin.Book.Absorb).
func SavePins(dataDir string, mine *pin.Book) error {
	_, err := UpdatePins(dataDir, func(b *pin.Book) error {
		b.Absorb(mine)
		return nil
	})
	return err
}
