package testutil

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mcpmux/mcpmux/internal/filelock"
)

// The real MCP servers that end-to-end tests run, pinned to one version
// each. Their bins are node scripts with a shebang, so they run as they are
// when node is on PATH. server-everything serves stdio when given no
// argument. .ci/run installs the same versions up front.
const (
	EverythingPkg     = "@modelcontextprotocol/server-everything"
	EverythingVersion = "2026.8.31"
	EverythingBin     = "mcp-server-everything"

	MemoryPkg     = "@modelcontextprotocol/server-memory"
	MemoryVersion = "2026.8.31"
	MemoryBin     = "mcp-server-memory"

	// server-filesystem (given a directory it may serve) and
	// sequential-thinking: with the two above, the catalogues on which
	// the poisoning scanner must find nothing (see registry/pin).
	FilesystemPkg     = "@modelcontextprotocol/server-filesystem"
	FilesystemVersion = "2026.8.31"
	FilesystemBin     = "mcp-server-filesystem"

	SequentialThinkingPkg     = "@modelcontextprotocol/server-sequential-thinking"
	SequentialThinkingVersion = "2026.8.31"
	SequentialThinkingBin     = "mcp-server-sequential-thinking"

	// Claude Code, a real host: its bin is a native executable shipped in
	// the package (through an optional dependency per platform).
	ClaudeCodePkg     = "@anthropic-ai/claude-code"
	ClaudeCodeVersion = "2.1.328"
	ClaudeCodeBin     = "claude"

	// Gemini CLI, a real host, installed apart from the servers (see
	// HostBin): its hundreds of dependencies must not move theirs.
	GeminiCLIPkg     = "@google/gemini-cli"
	GeminiCLIVersion = "0.61.0"
	GeminiCLIBin     = "gemini"

	// Codex CLI, a real host (see HostBin); its bin is a node launcher of
	// a native executable shipped in a per-platform package.
	CodexPkg     = "@openai/codex"
	CodexVersion = "0.171.0"
	CodexBin     = "codex"

	// opencode, a real host (see HostBin): a native executable through
	// a per-platform package.
	OpencodePkg     = "opencode-ai"
	OpencodeVersion = "1.18.33"
	OpencodeBin     = "opencode"

	// The official TypeScript SDK, whose client the benchmarks drive
	// (internal/bench); a library, without a bin.
	SDKPkg     = "@modelcontextprotocol/sdk"
	SDKVersion = "1.32.2"
)

// npmInstallTimeout bounds one npm install, which downloads packages.
const npmInstallTimeout = 5 * time.Minute

// NPMBin returns the absolute path of the executable bin of npm package
// pkg at version, installing pkg@version first if it is not installed yet.
// Packages are installed with npm into $MCPMUX_TEST_CACHE/npm, or into
// mcpmux-test/npm under os.UserCacheDir if that variable is unset; a lock
// file there keeps test binaries running in parallel from installing at
// the same time. It skips tb if node or npm is not on PATH, and fails it if
// the install fails or the package has no such bin.
func NPMBin(tb testing.TB, pkg, version, bin string) string {
	tb.Helper()
	var path string
	npmEnsure(tb, pkg, version, func(dir string) error {
		var err error
		path, err = installedBin(dir, pkg, version, bin)
		return err
	})
	return path
}

// HostBin is NPMBin for a host (an agent CLI such as Gemini CLI), which
// is installed into a prefix of its own, hosts/<name> beside the npm
// test cache: a host's many dependencies must not move the servers'.
func HostBin(tb testing.TB, name, pkg, version, bin string) string {
	tb.Helper()
	var path string
	npmEnsureIn(tb, filepath.Join("hosts", name), pkg, version, func(dir string) error {
		var err error
		path, err = installedBin(dir, pkg, version, bin)
		return err
	})
	return path
}

// NPMModules returns the node_modules directory in which pkg@version is
// installed, installing it first as NPMBin does, for a package without a
// bin (a library that a node script requires: set NODE_PATH to it).
func NPMModules(tb testing.TB, pkg, version string) string {
	tb.Helper()
	var modules string
	npmEnsure(tb, pkg, version, func(dir string) error {
		modules = filepath.Join(dir, "node_modules")
		_, err := installedVersion(dir, pkg, version)
		return err
	})
	return modules
}

// npmEnsure installs pkg@version into the npm test cache unless found
// reports that it is there, and fails tb unless found then does. It
// skips tb without node and npm.
func npmEnsure(tb testing.TB, pkg, version string, found func(dir string) error) {
	tb.Helper()
	npmEnsureIn(tb, "npm", pkg, version, found)
}

// npmEnsureIn is npmEnsure with the prefix sub, under the test cache.
func npmEnsureIn(tb testing.TB, sub, pkg, version string, found func(dir string) error) {
	tb.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skip("node not found on PATH: skipping test against a real npm MCP server")
		}
	}
	dir, err := npmDir(sub)
	if err != nil {
		tb.Fatalf("finding the npm test cache: %v", err)
	}
	// Under the lock even to look: a package another test binary is
	// installing may have its package.json before its dependencies.
	unlock, err := lockDir(dir)
	if err != nil {
		tb.Fatalf("locking the npm test cache: %v", err)
	}
	defer unlock()
	if found(dir) == nil {
		return
	}
	if out, err := npmInstall(dir, pkg+"@"+version); err != nil {
		tb.Fatalf("npm install %s@%s into %s: %v\n%s", pkg, version, dir, err, out)
	}
	if err := found(dir); err != nil {
		tb.Fatalf("after npm install %s@%s: %v", pkg, version, err)
	}
}

// npmDir returns the prefix directory sub of the test cache that npm
// installs into, creating it.
func npmDir(sub string) (string, error) {
	base := os.Getenv("MCPMUX_TEST_CACHE")
	if base == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(cache, "mcpmux-test")
	}
	dir, err := filepath.Abs(filepath.Join(base, sub))
	if err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// lockDir takes an exclusive lock on dir/.lock, waiting for it, and returns
// the function that releases it. The lock is per open file, so it also
// serialises goroutines of one process.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := filelock.Lock(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = filelock.Unlock(f)
		f.Close()
	}, nil
}

// npmInstall installs spec into the prefix dir and returns npm's output.
func npmInstall(dir, spec string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), npmInstallTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--prefix", dir, spec)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

// installedBin returns the path of bin if pkg is installed in dir at
// version, as its package.json says.
func installedBin(dir, pkg, version, bin string) (string, error) {
	meta, err := installedVersion(dir, pkg, version)
	if err != nil {
		return "", err
	}
	rel, err := binPath(meta.Bin, meta.Name, bin)
	if err != nil {
		return "", fmt.Errorf("%s@%s: %w", pkg, version, err)
	}
	path := filepath.Join(dir, "node_modules", filepath.FromSlash(pkg), filepath.FromSlash(rel))
	if info, err := os.Stat(path); err != nil || info.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s@%s: bin %q (%s) is not an executable file", pkg, version, bin, path)
	}
	return path, nil
}

// packageMeta is what installedVersion reads of a package.json.
type packageMeta struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	Bin     json.RawMessage `json:"bin"`
}

// installedVersion reads pkg's package.json in dir and checks that it is
// installed at version.
func installedVersion(dir, pkg, version string) (packageMeta, error) {
	var meta packageMeta
	data, err := os.ReadFile(filepath.Join(dir, "node_modules", filepath.FromSlash(pkg), "package.json"))
	if err != nil {
		return meta, err
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return meta, fmt.Errorf("decoding %s/package.json: %w", pkg, err)
	}
	if meta.Name != pkg || meta.Version != version {
		return meta, fmt.Errorf("installed: %s@%s, want %s@%s", meta.Name, meta.Version, pkg, version)
	}
	return meta, nil
}

// binPath finds bin in a package.json "bin" field, which is either a map
// from bin names to paths or a single path named after the package.
func binPath(field json.RawMessage, name, bin string) (string, error) {
	var bins map[string]string
	if err := json.Unmarshal(field, &bins); err != nil {
		var single string
		if json.Unmarshal(field, &single) != nil {
			return "", fmt.Errorf("package.json has no usable bin field")
		}
		bins = map[string]string{filepath.Base(name): single}
	}
	rel, ok := bins[bin]
	if !ok {
		return "", fmt.Errorf("package.json declares no bin %q (has %v)", bin, bins)
	}
	return rel, nil
}

// The mcpmux binaries built by this test binary, each at most once.
var (
	buildDir   = sync.OnceValues(func() (string, error) { return os.MkdirTemp("", "mcpmux-build-") })
	raceBuild  = sync.OnceValues(func() (string, error) { return goBuildMcpmux(true) })
	plainBuild = sync.OnceValues(func() (string, error) { return goBuildMcpmux(false) })
)

// BuildMcpmux returns the path of the mcpmux binary built from ./cmd/mcpmux
// with -race, so that end-to-end tests race-check the real binary too. It
// is built once per test binary, into a temporary directory that
// RemoveBuilds deletes. It fails tb if the build fails.
func BuildMcpmux(tb testing.TB) string {
	tb.Helper()
	path, err := raceBuild()
	if err != nil {
		tb.Fatalf("building mcpmux: %v", err)
	}
	return path
}

// BuildMcpmuxNoRace is BuildMcpmux without -race, for benchmarks.
func BuildMcpmuxNoRace(tb testing.TB) string {
	tb.Helper()
	path, err := plainBuild()
	if err != nil {
		tb.Fatalf("building mcpmux: %v", err)
	}
	return path
}

// goBuildMcpmux builds ./cmd/mcpmux into the build directory.
func goBuildMcpmux(race bool) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := buildDir()
	if err != nil {
		return "", err
	}
	args := []string{"build", "-o", filepath.Join(dir, "mcpmux"), "./cmd/mcpmux"}
	if race {
		args = []string{"build", "-race", "-o", filepath.Join(dir, "mcpmux-race"), "./cmd/mcpmux"}
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %v: %w\n%s", args, err, out)
	}
	return args[len(args)-2], nil
}

// RemoveBuilds deletes the binaries that BuildMcpmux and BuildMcpmuxNoRace
// built. Call it from TestMain after m.Run.
func RemoveBuilds() {
	if dir, err := buildDir(); err == nil {
		_ = os.RemoveAll(dir)
	}
}
