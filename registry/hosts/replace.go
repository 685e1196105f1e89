package hosts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// backupInfix separates a file's name from the time of its backup.
const backupInfix = ".mcpmux-backup-"

// ErrNoBackup is returned by Undo for a file without a backup.
var ErrNoBackup = errors.New("no backup made by mcpmux import")

// McpmuxEntry returns the entry that starts mcpmux, the executable self
// (absolute), on the configuration config, in f's shape. path, if not
// empty, is given as the entry's PATH: GUI hosts start their servers with
// a short one, in which the upstreams' commands (npx, uvx) are not found.
func McpmuxEntry(f File, self, config, path string) json.RawMessage {
	e := map[string]any{"command": self, "args": []string{"serve", "--config", config}}
	if path != "" {
		e["env"] = map[string]string{"PATH": path}
	}
	if f.Key != "mcpServers" {
		e["type"] = "stdio" // VS Code wants it
	}
	raw, _ := json.Marshal(e)
	return raw
}

// ReplaceHost rewrites f so that its servers are entry alone, under the
// name "mcpmux", every other member of the file kept; first it writes a
// copy of the file next to it, named after now, and returns its path. A
// file with comments is refused: rewriting it would lose them.
func ReplaceHost(f File, entry json.RawMessage, now time.Time) (backup string, err error) {
	data, err := readFile(f.Path)
	if err != nil {
		return "", err
	}
	if f.JSONC && !bytes.Equal(StripJSONC(data), data) {
		return "", fmt.Errorf("%s has comments or trailing commas, which rewriting would lose; replace its servers with mcpmux's entry by hand", f.Path)
	}
	if _, err := serversObject(data, f); err != nil {
		return "", err
	}
	servers, err := json.Marshal(map[string]json.RawMessage{"mcpmux": entry})
	if err != nil {
		return "", err
	}
	result, err := setPath(data, strings.Split(f.Key, "."), servers)
	if err != nil {
		return "", fmt.Errorf("rewriting %s: %w", f.Path, err)
	}
	if result, err = indent(result); err != nil {
		return "", err
	}
	backup = f.Path + backupInfix + now.UTC().Format("20060102T150405.000Z")
	if err := writeNew(backup, data); err != nil {
		return "", fmt.Errorf("backing up %s: %w", f.Path, err)
	}
	if err := writeAtomic(f.Path, result); err != nil {
		return backup, fmt.Errorf("rewriting %s (the backup is %s): %w", f.Path, backup, err)
	}
	return backup, nil
}

// setPath sets the member at path of the object obj to v, making the
// objects on the way if missing.
func setPath(obj []byte, path []string, v []byte) ([]byte, error) {
	if len(path) == 1 {
		return jsonrpc.Set(obj, path[0], v)
	}
	inner, err := jsonrpc.Member(obj, path[0])
	if err != nil {
		return nil, err
	}
	if inner == nil {
		inner = json.RawMessage(`{}`)
	}
	inner, err = setPath(inner, path[1:], v)
	if err != nil {
		return nil, err
	}
	return jsonrpc.Set(obj, path[0], inner)
}

// writeNew writes a new file, never over one.
func writeNew(path string, data []byte) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// Backups returns the backups of the file at path, oldest first.
func Backups(path string) []string {
	dir, prefix := filepath.Dir(path), filepath.Base(path)+backupInfix
	entries, _ := os.ReadDir(dir)
	var found []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			found = append(found, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(found) // the times sort as the names do
	return found
}

// Undo puts the latest backup of f back, and returns its path; the backup
// stays.
func Undo(f File) (string, error) {
	backups := Backups(f.Path)
	if len(backups) == 0 {
		return "", fmt.Errorf("%s: %w", f.Path, ErrNoBackup)
	}
	latest := backups[len(backups)-1]
	data, err := readFile(latest)
	if err != nil {
		return "", err
	}
	return latest, writeAtomic(f.Path, data)
}
