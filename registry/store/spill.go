package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/mcpmux/mcpmux/internal/atomicfile"
	"github.com/mcpmux/mcpmux/registry"
)

// A spill file holds what a stopping [Recorder] had not written to the
// store yet: a mcpmux that exits has a fraction of a second, and the
// store takes a child process and Badger's opening of its files. The last
// flush writes its batch to a spill file in the data directory first, in
// this process, and then has the store take it in (see absorbSpills);
// whatever that does not finish in time stays in the file, and the next
// write to the store, by the next start or by another mcpmux on the same
// directory, takes it in and removes it. The store's lock makes sure only
// one writer takes a file in.
//
// A spill file holds what the store holds, already masked by those who
// record it (states and events carry masked errors), and never a secret.
// It is written with mode 0600, beside the store, and read as hostile: a
// file too large or that does not decode is moved aside with a warning.

// spillPrefix and spillSuffix frame the name of a spill file:
// spill-<unix nanoseconds>-<pid>.json, so that names sort oldest first.
const (
	spillPrefix  = "spill-"
	spillSuffix  = ".json"
	spillVersion = 1
)

// maxSpillSize bounds a spill file that is read.
var maxSpillSize = 64 << 20

// spillFile is a spill file's shape: a [Batch], its catalogues encoded as
// the store encodes them.
type spillFile struct {
	Version    int                             `json:"version"`
	Catalogues map[string]json.RawMessage      `json:"catalogues,omitempty"`
	States     map[string]ServerState          `json:"states,omitempty"`
	Calls      map[string]map[string]CallStats `json:"calls,omitempty"`
	Events     []Event                         `json:"events,omitempty"`
}

// writeSpill writes b to a new spill file in dataDir and returns its
// path. Catalogues that cannot be encoded are left out, as the store
// leaves them out.
func writeSpill(dataDir string, b *Batch, now time.Time) (string, error) {
	data, err := json.Marshal(spillOf(b))
	if err != nil {
		return "", fmt.Errorf("encoding spill: %w", err)
	}
	name := spillPrefix + strconv.FormatInt(now.UnixNano(), 10) + "-" + strconv.Itoa(os.Getpid()) + spillSuffix
	path := filepath.Join(dataDir, name)
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// spills returns the spill files in dataDir, oldest first.
func spills(dataDir string) []string {
	paths, _ := filepath.Glob(filepath.Join(dataDir, spillPrefix+"*"+spillSuffix))
	slices.Sort(paths)
	return paths
}

// readSpill reads the spill file at path.
func readSpill(path string) (*Batch, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(maxSpillSize)+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", filepath.Base(path), err)
	case len(data) > maxSpillSize:
		return nil, fmt.Errorf("reading %s: larger than %d bytes", filepath.Base(path), maxSpillSize)
	}
	var sf spillFile
	if err := json.Unmarshal(data, &sf); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", filepath.Base(path), err)
	}
	if sf.Version != spillVersion {
		return nil, fmt.Errorf("decoding %s: version %d, want %d", filepath.Base(path), sf.Version, spillVersion)
	}
	b := &Batch{States: sf.States, Calls: sf.Calls, Events: sf.Events}
	for name, raw := range sf.Catalogues {
		var c registry.Catalogue
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("decoding %s: catalogue of %q: %w", filepath.Base(path), name, err)
		}
		if b.Catalogues == nil {
			b.Catalogues = make(map[string]registry.Catalogue)
		}
		b.Catalogues[name] = c
	}
	for _, e := range b.Events {
		if e.Server == "" {
			return nil, fmt.Errorf("decoding %s: an event without a server", filepath.Base(path))
		}
	}
	return b, nil
}

// absorbSpills writes the spill files in dataDir to s, oldest first. Each
// file is removed once all of it is written, and rewritten with what is
// left if only part of it is; one that cannot be read is moved aside, with
// a warning, so that it is not read again.
func absorbSpills(s *DB, dataDir string, logger *slog.Logger) error {
	var errs []error
	for _, path := range spills(dataDir) {
		b, err := readSpill(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue // taken in meanwhile
		case err != nil:
			aside := path + ".bad"
			logger.Warn("spill file unreadable; moved aside", "file", path, "moved_to", aside, "err", err)
			errs = append(errs, os.Rename(path, aside))
			continue
		}
		werr := s.Write(b)
		switch {
		case b.Empty():
			errs = append(errs, werr, os.Remove(path))
		default:
			data, err := json.Marshal(spillOf(b))
			if err == nil {
				err = atomicfile.Write(path, data, 0o600)
			}
			errs = append(errs, werr, err)
		}
		if werr != nil {
			break // the store fails: the rest waits for the next write
		}
		logger.Debug("spill file written to the store", "file", path)
	}
	return errors.Join(errs...)
}

// spillOf returns b as a spill file's content; catalogues that cannot be
// encoded are left out.
func spillOf(b *Batch) spillFile {
	f := spillFile{Version: spillVersion, States: b.States, Calls: b.Calls, Events: b.Events}
	for name, c := range b.Catalogues {
		if data, err := marshalCatalogue(c); err == nil {
			if f.Catalogues == nil {
				f.Catalogues = make(map[string]json.RawMessage)
			}
			f.Catalogues[name] = data
		}
	}
	return f
}
