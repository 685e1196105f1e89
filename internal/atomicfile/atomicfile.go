// Package atomicfile replaces a file's contents all at once: a reader, or
// a crash, sees the old file or the new one, never a part of either.
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces the file path with data, with permissions perm: it
// writes a temporary file beside it (".NAME.tmp-*", in a directory made
// 0700 if missing) and renames it over path (MoveFileEx's replace on
// Windows). The temporary file is removed if anything fails. Errors name
// the file.
//
// Write does not fsync: after a crash of the machine the file may be
// empty or old, which suits files that are rewritten often, kept
// elsewhere too, or checked on reading. WriteSync is for the others.
func Write(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, false)
}

// WriteSync is Write, with the data flushed to disk before the rename:
// for files that nothing else can rebuild (tokens, a host's
// configuration).
func WriteSync(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, true)
}

func write(path string, data []byte, perm fs.FileMode, sync bool) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
