package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mcpmux/mcpmux/internal/atomicfile"
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

// ErrPinsDamaged is the error of a pins file that cannot be used: not
// JSON, another version, too large. Such a file is not ignored, which
// would pin afresh whatever the upstreams send now and so approve a
// change the user never saw: UpdatePins moves it aside and starts a book
// that withholds what it has not seen (pin.Book.Recovered).
var ErrPinsDamaged = errors.New("the tool pins file is damaged")

// PinsMaxAge is how long the pins of a server that no mcpmux of the data
// directory has served are kept: SavePins forgets them after that (see
// pin.Book.Prune), so that the file does not grow with every server ever
// configured. One that comes back is pinned afresh.
const PinsMaxAge = 90 * 24 * time.Hour

// LoadPins reads the pins of the data directory dataDir. A file that does
// not exist is an empty book. A damaged one is an error wrapping
// ErrPinsDamaged, with the book UpdatePins would start in its place (one
// that withholds what it has not seen); any other is an error, with an
// empty book.
func LoadPins(dataDir string) (*pin.Book, error) {
	path := PinsPath(dataDir)
	f, err := os.Open(path)
	if isNotExist(err) {
		return &pin.Book{}, nil
	}
	if err != nil {
		return &pin.Book{}, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(maxPinsSize)+1))
	if err != nil {
		return &pin.Book{}, fmt.Errorf("reading %s: %w", path, err)
	}
	b, err := decodePins(data)
	if err != nil {
		return &pin.Book{Recovered: &pin.Recovery{}}, fmt.Errorf("%w: %s: %w", ErrPinsDamaged, path, err)
	}
	return b, nil
}

// decodePins decodes the pins file's bytes.
func decodePins(data []byte) (*pin.Book, error) {
	if len(data) > maxPinsSize {
		return nil, fmt.Errorf("larger than %d bytes", maxPinsSize)
	}
	var pf pinsFile
	if err := json.Unmarshal(data, &pf); err != nil {
		return nil, err
	}
	if pf.Version != pinsVersion {
		return nil, fmt.Errorf("version %d, want %d", pf.Version, pinsVersion)
	}
	return &pf.Book, nil
}

// UpdatePins runs change on the pins of dataDir, under the lock that
// writers of the file take turns at, and writes what it leaves if it
// returns nil. It returns the book as written, and where it moved a
// damaged file ("" if it did not): to pins.json.damaged-TIME beside it,
// replaced by a book that withholds what it has not seen
// (pin.Book.Recovered). A nil change only repairs a damaged file.
func UpdatePins(dataDir string, change func(*pin.Book) error) (b *pin.Book, movedTo string, err error) {
	err = withPinsLock(dataDir, func() error {
		b, err = LoadPins(dataDir)
		switch {
		case errors.Is(err, ErrPinsDamaged):
			if movedTo, err = setAside(PinsPath(dataDir)); err != nil {
				return err
			}
			b = &pin.Book{Recovered: &pin.Recovery{MovedTo: movedTo, At: time.Now().UTC()}}
		case err != nil:
			return err
		case change == nil:
			return nil
		}
		if change != nil {
			if err := change(b); err != nil {
				return err
			}
		}
		data, err := json.MarshalIndent(pinsFile{Version: pinsVersion, Book: *b}, "", " ")
		if err != nil {
			return fmt.Errorf("encoding %s: %w", pinsName, err)
		}
		return atomicfile.Write(PinsPath(dataDir), append(data, '\n'), 0o600)
	})
	return b, movedTo, err
}

// setAside renames the damaged file path to path.damaged-TIME and returns
// the new name.
func setAside(path string) (string, error) {
	to := path + ".damaged-" + time.Now().UTC().Format("20060102T150405.000Z")
	if err := os.Rename(path, to); err != nil {
		return "", fmt.Errorf("moving the damaged %s aside: %w", path, err)
	}
	return to, nil
}

// SavePins writes what a serving mcpmux's book learned into the pins of
// dataDir (see pin.Book.Absorb), and forgets the servers nobody served
// for PinsMaxAge. It returns where it moved a damaged file, as
// UpdatePins.
func SavePins(dataDir string, mine *pin.Book) (movedTo string, err error) {
	_, movedTo, err = UpdatePins(dataDir, func(b *pin.Book) error {
		b.Absorb(mine)
		b.Prune(time.Now(), PinsMaxAge, nil)
		return nil
	})
	return movedTo, err
}
