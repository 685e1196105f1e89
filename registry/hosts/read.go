package hosts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// maxFile bounds a host's file: ~/.claude.json holds a history too, but
// nothing near this.
const maxFile = 32 << 20

// Entry is one MCP server of a host's file, in mcpmux's shape.
type Entry struct {
	Name string
	// Raw is the entry as mcpmux reads it: the host's own object, with
	// what differs renamed (Windsurf's "serverUrl" is "url").
	Raw  json.RawMessage
	From File
}

// Read returns the MCP servers of f, sorted by name. A file without a
// servers object has none. An entry that is not an object is left out,
// and named in the error, which the others come with.
func Read(f File) ([]Entry, error) {
	data, err := readFile(f.Path)
	if err != nil {
		return nil, err
	}
	return parseEntries(data, f)
}

// parseEntries returns the MCP servers of data, the contents of f.
func parseEntries(data []byte, f File) ([]Entry, error) {
	servers, err := serversObject(data, f)
	if err != nil || servers == nil {
		return nil, err
	}
	var raws map[string]json.RawMessage
	if err := json.Unmarshal(servers, &raws); err != nil {
		return nil, fmt.Errorf("%s: %q: %w", f.Path, f.Key, err)
	}
	var out []Entry
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(raws)) {
		raw := raws[name]
		if kind := jsonrpc.Kind(raw); kind != "an object" {
			errs = append(errs, fmt.Errorf("%s: server %q is %s, not an object; left out", f.Path, name, kind))
			continue
		}
		out = append(out, Entry{Name: name, Raw: normalize(raw), From: f})
	}
	return out, errors.Join(errs...)
}

// readFile reads a file of at most maxFile bytes.
func readFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("%s is larger than %d MB", path, maxFile>>20)
	}
	return bytes.TrimPrefix(data, []byte("\ufeff")), nil
}

// serversObject returns the raw servers object of a file's data, at
// f.Key; nil if there is none.
func serversObject(data []byte, f File) (json.RawMessage, error) {
	if f.JSONC {
		data = StripJSONC(data)
	}
	obj := json.RawMessage(data)
	for _, key := range strings.Split(f.Key, ".") {
		if jsonrpc.Kind(obj) != "an object" {
			return nil, fmt.Errorf("%s: not a JSON object where %q should be", f.Path, f.Key)
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(obj, &members); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		var ok bool
		if obj, ok = members[key]; !ok {
			return nil, nil
		}
	}
	if kind := jsonrpc.Kind(obj); kind != "an object" {
		return nil, fmt.Errorf("%s: %q is %s, not an object", f.Path, f.Key, kind)
	}
	return obj, nil
}

// normalize renames what a host names otherwise than mcpmux: Windsurf's
// "serverUrl" is "url".
func normalize(raw json.RawMessage) json.RawMessage {
	var sp [2]jsonrpc.Span
	if jsonrpc.Scan(raw, []string{"serverUrl", "url"}, sp[:]) != nil || !sp[0].Found() || sp[1].Found() {
		return raw
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return raw
	}
	m["url"] = m["serverUrl"]
	delete(m, "serverUrl")
	out, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return out
}

// IsMcpmux reports whether the entry starts mcpmux: its command is the
// binary self, or is named mcpmux. Import never takes such an entry: it
// would serve mcpmux's own configuration again.
func IsMcpmux(raw json.RawMessage, self string) bool {
	cmd, _ := jsonrpc.StringMember(raw, "command")
	if cmd == "" {
		return false
	}
	base := strings.TrimSuffix(strings.ToLower(filepath.Base(cmd)), ".exe")
	if base == "mcpmux" {
		return true
	}
	if self == "" {
		return false
	}
	a, err1 := filepath.EvalSymlinks(cmd)
	b, err2 := filepath.EvalSymlinks(self)
	return err1 == nil && err2 == nil && a == b
}

// Detect returns path as a File of whatever host's shape it has:
// "mcpServers", VS Code's "servers", or its settings' "mcp.servers".
// Comments are allowed.
func Detect(path string) File {
	f := File{Host: "file", Path: path, Key: "mcpServers", JSONC: true}
	data, err := readFile(path)
	if err != nil {
		return f
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(StripJSONC(data), &top) != nil {
		return f
	}
	if _, ok := top["mcpServers"]; ok {
		return f
	}
	if _, ok := top["servers"]; ok {
		f.Key = "servers"
	} else if _, ok := top["mcp"]; ok {
		f.Key = "mcp.servers"
	}
	return f
}
