package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// The bundle: its name in the release directory, and where its binaries
// stand inside it. Claude Desktop unpacks it into a directory of its own,
// which ${__dirname} names in the manifest.
const (
	bundleName    = "mcpmux.mcpb"
	bundleDarwin  = "server/mcpmux"     // universal: amd64 and arm64
	bundleWindows = "server/mcpmux.exe" // amd64; Windows 11 on Arm runs it emulated
)

// The builds the bundle's binaries are made of.
var (
	darwinSlices  = []target{{"darwin", "amd64"}, {"darwin", "arm64"}}
	windowsTarget = target{"windows", "amd64"}
)

// manifest is an MCP Bundle's manifest.json, manifest_version 0.3: the
// fields mcpmux uses, as the MCPB spec (MANIFEST.md of the mcpb project)
// names them.
type manifest struct {
	ManifestVersion  string                `json:"manifest_version"`
	Name             string                `json:"name"`
	DisplayName      string                `json:"display_name"`
	Version          string                `json:"version"`
	Description      string                `json:"description"`
	LongDescription  string                `json:"long_description"`
	Author           author                `json:"author"`
	Repository       repository            `json:"repository"`
	Homepage         string                `json:"homepage"`
	Server           server                `json:"server"`
	ToolsGenerated   bool                  `json:"tools_generated"`
	PromptsGenerated bool                  `json:"prompts_generated"`
	Keywords         []string              `json:"keywords"`
	Compatibility    compatibility         `json:"compatibility"`
	UserConfig       map[string]userOption `json:"user_config"`
}

type author struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

type repository struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

type server struct {
	Type       string    `json:"type"`
	EntryPoint string    `json:"entry_point"`
	MCPConfig  mcpConfig `json:"mcp_config"`
}

// mcpConfig is how the host starts the server; platform_overrides, keyed
// by Node's process.platform, replace command, args or env on one OS.
type mcpConfig struct {
	Command           string                      `json:"command"`
	Args              []string                    `json:"args"`
	PlatformOverrides map[string]platformOverride `json:"platform_overrides"`
}

type platformOverride struct {
	Command string `json:"command"`
}

type compatibility struct {
	Platforms []string `json:"platforms"`
}

// userOption is one setting the host asks the user for; mcp_config refers
// to it as ${user_config.KEY}.
type userOption struct {
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Required    bool   `json:"required"`
}

// configKey is the user_config entry that holds the configuration file.
const configKey = "config_file"

// manifestFor returns the bundle's manifest for version. Its one setting
// is the configuration file, a required file picker: an optional setting
// left empty would reach mcpmux as the literal text ${user_config.…}, and
// no default fits both macOS and Windows.
func manifestFor(version string) manifest {
	const site = "https://github.com/mcpmux/mcpmux"
	dir := "${__dirname}/"
	return manifest{
		ManifestVersion: "0.3",
		Name:            "mcpmux",
		DisplayName:     "mcpmux",
		Version:         version,
		Description:     "One MCP server that stands in for many: every server in your mcpmux configuration, merged, namespaced and kept alive.",
		LongDescription: "mcpmux starts or connects every MCP server listed in its configuration file " +
			"(stdio commands, streamable HTTP and SSE servers), merges their tools, prompts and resources " +
			"under namespaced names (`github__create_issue`), routes each call to the server that owns it, " +
			"and restarts a server that dies. The configuration file uses Claude Desktop's `mcpServers` format.",
		Author:     author{Name: "The mcpmux authors", URL: site},
		Repository: repository{Type: "git", URL: site + ".git"},
		Homepage:   site,
		Server: server{
			Type:       "binary",
			EntryPoint: bundleDarwin,
			MCPConfig: mcpConfig{
				Command: dir + bundleDarwin,
				Args:    []string{"serve", "--config", "${user_config." + configKey + "}"},
				PlatformOverrides: map[string]platformOverride{
					"darwin": {Command: dir + bundleDarwin},
					"win32":  {Command: dir + bundleWindows},
				},
			},
		},
		ToolsGenerated:   true,
		PromptsGenerated: true,
		Keywords:         []string{"proxy", "aggregator", "gateway", "mcp"},
		Compatibility:    compatibility{Platforms: []string{"darwin", "win32"}},
		UserConfig: map[string]userOption{
			configKey: {
				Type:  "file",
				Title: "Configuration file",
				Description: "mcpmux's configuration: a JSON file with an mcpServers object, as in claude_desktop_config.json. " +
					"Usually config.json in ~/Library/Application Support/mcpmux (macOS) or in %APPDATA%\\mcpmux (Windows).",
				Required: true,
			},
		},
	}
}

// encode returns m as manifest.json holds it: indented, one final newline.
func (m manifest) encode() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	return append(b, '\n'), err
}

// writeBundle packs out/mcpmux.mcpb from the binaries already built in out:
// a zip holding manifest.json at its root, the universal macOS binary made
// of the two darwin builds, and the windows/amd64 one, executable, each
// stamped with mtime. It writes a temporary file and renames it.
func writeBundle(out, version string, mtime time.Time) (err error) {
	meta, err := manifestFor(version).encode()
	if err != nil {
		return err
	}
	var slices [][]byte
	for _, t := range darwinSlices {
		b, err := os.ReadFile(filepath.Join(out, t.fileName()))
		if err != nil {
			return fmt.Errorf("reading the %s/%s build: %w", t.GOOS, t.GOARCH, err)
		}
		slices = append(slices, b)
	}
	var universal bytes.Buffer
	if err := writeUniversal(&universal, slices...); err != nil {
		return fmt.Errorf("making the universal macOS binary: %w", err)
	}
	exe, err := os.ReadFile(filepath.Join(out, windowsTarget.fileName()))
	if err != nil {
		return fmt.Errorf("reading the windows build: %w", err)
	}

	f, err := os.CreateTemp(out, bundleName+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	zw := zip.NewWriter(f)
	for _, e := range []struct {
		name string
		mode os.FileMode
		data []byte
	}{
		{"manifest.json", 0o644, meta},
		{bundleDarwin, 0o755, universal.Bytes()},
		{bundleWindows, 0o755, exe},
	} {
		if err := addFile(zw, e.name, e.mode, mtime, e.data); err != nil {
			return fmt.Errorf("packing %s: %w", e.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("packing %s: %w", bundleName, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", bundleName, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), filepath.Join(out, bundleName))
}

// addFile adds one deflated file to zw with its Unix mode, which unpackers
// (mcpb's, Claude Desktop's) restore on macOS.
func addFile(zw *zip.Writer, name string, mode os.FileMode, mtime time.Time, data []byte) error {
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: mtime}
	h.SetMode(mode)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, bytes.NewReader(data))
	return err
}
