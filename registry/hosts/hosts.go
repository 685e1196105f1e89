// Package hosts reads and writes the MCP server lists of the hosts users
// have (Claude Desktop, Claude Code, Cursor, VS Code, Windsurf), so that
// mcpmux import can take their servers over and mcpmux discover can tell
// which are not configured yet.
//
// A [Host] knows where its files are on each system ([Host.Files]) and
// how its entries are shaped; [Read] returns the [Entry]s of one file;
// [Plan] merges entries into an mcpmux configuration without ever
// overwriting one, and [Apply] writes the result. [ReplaceHost] rewrites
// a host's file to start mcpmux alone, after a timestamped backup, and
// [Undo] puts the latest backup back.
//
// Every file read here is hostile input: sizes are bounded, JSON with
// comments (VS Code's settings.json) is reduced to JSON by [StripJSONC],
// and an entry that is not an object is reported, not imported.
package hosts

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Env is where the files of the hosts are: the user's home, the
// system's per-user config directory, the project directory. The zero
// value of a field means it is unknown, and the files under it are not
// looked for.
type Env struct {
	Home string
	// OS is runtime.GOOS: "darwin", "windows", "linux", ...
	OS string
	// AppData is %APPDATA% on Windows.
	AppData string
	// ConfigHome is $XDG_CONFIG_HOME, or ~/.config, elsewhere.
	ConfigHome string
	// Project is the directory whose .mcp.json, .cursor/mcp.json and
	// .vscode/mcp.json are read: the working directory.
	Project string
}

// CurrentEnv returns the Env of this process.
func CurrentEnv(goos string) Env {
	e := Env{OS: goos, AppData: os.Getenv("APPDATA"), ConfigHome: os.Getenv("XDG_CONFIG_HOME")}
	e.Home, _ = os.UserHomeDir()
	if e.ConfigHome == "" && e.Home != "" {
		e.ConfigHome = filepath.Join(e.Home, ".config")
	}
	e.Project, _ = os.Getwd()
	return e
}

// Host is one MCP host.
type Host struct {
	// Name is how the command line names it: "claude-desktop".
	Name string
	// Title is how a person names it: "Claude Desktop".
	Title string
	files func(Env) []File
}

// File is one file of a host's where MCP servers are listed.
type File struct {
	Host string // the host's Name
	Path string
	// Key is the path of the servers object in the file: "mcpServers",
	// "servers" (VS Code's mcp.json), "mcp.servers" (VS Code's settings).
	Key string
	// JSONC: the file may hold comments and trailing commas.
	JSONC bool
}

// ErrUnknownHost is returned for a host name that is not one of [All].
var ErrUnknownHost = errors.New("unknown host")

// All are the hosts mcpmux knows, in the order import reads them: an
// entry of an earlier one wins over one of the same name in a later one.
var All = []Host{
	{"claude-desktop", "Claude Desktop", func(e Env) []File {
		var dir string
		switch e.OS {
		case "darwin":
			dir = join(e.Home, "Library", "Application Support", "Claude")
		case "windows":
			dir = join(e.AppData, "Claude")
		default:
			dir = join(e.ConfigHome, "Claude")
		}
		return files("claude-desktop", "mcpServers", false, join(dir, "claude_desktop_config.json"))
	}},
	{"claude-code", "Claude Code", func(e Env) []File {
		return files("claude-code", "mcpServers", false, join(e.Home, ".claude.json"), join(e.Project, ".mcp.json"))
	}},
	{"cursor", "Cursor", func(e Env) []File {
		return files("cursor", "mcpServers", false, join(e.Home, ".cursor", "mcp.json"), join(e.Project, ".cursor", "mcp.json"))
	}},
	{"vscode", "VS Code", func(e Env) []File {
		var user string
		switch e.OS {
		case "darwin":
			user = join(e.Home, "Library", "Application Support", "Code", "User")
		case "windows":
			user = join(e.AppData, "Code", "User")
		default:
			user = join(e.ConfigHome, "Code", "User")
		}
		out := files("vscode", "servers", true, join(e.Project, ".vscode", "mcp.json"), join(user, "mcp.json"))
		return append(out, files("vscode", "mcp.servers", true, join(user, "settings.json"))...)
	}},
	{"windsurf", "Windsurf", func(e Env) []File {
		return files("windsurf", "mcpServers", false, join(e.Home, ".codeium", "windsurf", "mcp_config.json"))
	}},
}

// Lookup returns the host named name.
func Lookup(name string) (Host, error) {
	i := slices.IndexFunc(All, func(h Host) bool { return h.Name == name })
	if i < 0 {
		var names []string
		for _, h := range All {
			names = append(names, h.Name)
		}
		return Host{}, errors.Join(ErrUnknownHost, errors.New(name+" is not one of "+strings.Join(names, ", ")))
	}
	return All[i], nil
}

// Files returns where the host keeps its servers in e, whether or not the
// files exist.
func (h Host) Files(e Env) []File { return h.files(e) }

// Existing returns the host's files in e that exist.
func (h Host) Existing(e Env) []File {
	var out []File
	for _, f := range h.files(e) {
		if st, err := os.Stat(f.Path); err == nil && st.Mode().IsRegular() {
			out = append(out, f)
		}
	}
	return out
}

func files(host, key string, jsonc bool, paths ...string) []File {
	var out []File
	for _, p := range paths {
		if p != "" {
			out = append(out, File{Host: host, Path: p, Key: key, JSONC: jsonc})
		}
	}
	return out
}

// join is filepath.Join, but "" if the first part is unknown.
func join(first string, rest ...string) string {
	if first == "" {
		return ""
	}
	return filepath.Join(append([]string{first}, rest...)...)
}
