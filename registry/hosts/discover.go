package hosts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
	"github.com/mcpmux/mcpmux/registry"
)

// Found is an MCP server discovered on this machine.
type Found struct {
	Name string `json:"name"`
	// Source is where it was found: a host's name, or "PATH" or the
	// directory of an executable.
	Source string `json:"source"`
	// Path is the host's file, or the executable.
	Path string `json:"path"`
	// Entry is its configuration entry, in mcpmux's shape.
	Entry json.RawMessage `json:"entry"`
}

// IsServerExecutable reports whether an executable's name says it is an
// MCP server: mcp-* or *-mcp-server (with .exe, .cmd on Windows).
func IsServerExecutable(name string) bool {
	name = strings.ToLower(name)
	for _, ext := range []string{".exe", ".cmd", ".bat"} {
		name = strings.TrimSuffix(name, ext)
	}
	return (strings.HasPrefix(name, "mcp-") && len(name) > len("mcp-")) ||
		(strings.HasSuffix(name, "-mcp-server") && len(name) > len("-mcp-server"))
}

// InstallDirs are the directories searched for server executables: those
// of path (a PATH value), then the common install directories of pip,
// go, cargo, npm, bun, deno and Homebrew under e.
func InstallDirs(e Env, path string) []string {
	dirs := filepath.SplitList(path)
	if e.Home != "" {
		for _, d := range [][]string{{".local", "bin"}, {"go", "bin"}, {".cargo", "bin"}, {".npm-global", "bin"}, {".bun", "bin"}, {".deno", "bin"}, {".volta", "bin"}} {
			dirs = append(dirs, filepath.Join(append([]string{e.Home}, d...)...))
		}
	}
	if prefix := os.Getenv("NPM_CONFIG_PREFIX"); prefix != "" {
		dirs = append(dirs, filepath.Join(prefix, "bin"))
	}
	if gopath := os.Getenv("GOPATH"); gopath != "" {
		dirs = append(dirs, filepath.Join(gopath, "bin"))
	}
	dirs = append(dirs, "/usr/local/bin", "/opt/homebrew/bin")
	var out []string
	for _, d := range dirs {
		if d != "" && !slices.Contains(out, filepath.Clean(d)) {
			out = append(out, filepath.Clean(d))
		}
	}
	return out
}

// Executables returns the server executables in dirs; of two of one
// name, the first.
func Executables(dirs []string) []Found {
	var out []Found
	seen := map[string]bool{}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, de := range entries {
			name := de.Name()
			if seen[name] || !IsServerExecutable(name) {
				continue
			}
			path := filepath.Join(dir, name)
			st, err := os.Stat(path) // follows links
			if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
				continue
			}
			seen[name] = true
			entry, _ := json.Marshal(map[string]string{"command": path})
			out = append(out, Found{Name: name, Source: dir, Path: path, Entry: entry})
		}
	}
	return out
}

// FromHosts returns the servers of the hosts' files in e, but mcpmux's
// own entries (self is mcpmux's executable).
func FromHosts(e Env, self string) []Found {
	var out []Found
	for _, h := range All {
		for _, f := range h.Existing(e) {
			entries, _ := Read(f)
			for _, en := range entries {
				if !IsMcpmux(en.Raw, self) {
					out = append(out, Found{Name: en.Name, Source: h.Name, Path: f.Path, Entry: en.Raw})
				}
			}
		}
	}
	return out
}

// Unconfigured returns what of found cfg does not have: no entry of the
// same name and contents, none that runs the same executable (as its
// command or as an argument: "uvx mcp-server-time"), and one of each
// name.
func Unconfigured(found []Found, cfg *registry.Config) []Found {
	var out []Found
	seen := map[string]bool{}
	for _, f := range found {
		if seen[f.Name] || configured(f, cfg) {
			continue
		}
		seen[f.Name] = true
		out = append(out, f)
	}
	return out
}

func configured(f Found, cfg *registry.Config) bool {
	cmd, _ := jsonrpc.StringMember(f.Entry, "command")
	url, _ := jsonrpc.StringMember(f.Entry, "url")
	exe := ""
	if filepath.IsAbs(cmd) && IsServerExecutable(filepath.Base(cmd)) {
		exe = filepath.Base(cmd)
	}
	for _, s := range cfg.Servers {
		switch {
		case s.Name == f.Name && (cmd == "" || s.Command == cmd || filepath.Base(s.Command) == filepath.Base(cmd)):
			return true
		case url != "" && s.URL == url:
			return true
		case cmd != "" && s.Command == cmd && (exe != "" || slices.Equal(s.Args, args(f.Entry))):
			return true
		case exe != "" && (filepath.Base(s.Command) == exe || slices.ContainsFunc(s.Args, func(a string) bool { return a == exe || filepath.Base(a) == exe })):
			return true
		}
	}
	_, invalid := cfg.Invalid[f.Name]
	return invalid
}

// args returns the "args" of an entry.
func args(raw json.RawMessage) []string {
	var e struct {
		Args []string `json:"args"`
	}
	_ = json.Unmarshal(raw, &e)
	return e.Args
}
