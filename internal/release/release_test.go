package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/mcpmux/mcpmux/internal/testutil"
)

// The official MCPB CLI, pinned; .ci/run installs the same version.
const (
	mcpbPkg     = "@anthropic-ai/mcpb"
	mcpbVersion = "2.1.2"
	mcpbBin     = "mcpb"
)

const testVersion = "1.2.3-test.1"

// TestRelease builds the whole release once, as `go run ./internal/release
// -o DIR -version 1.2.3-test.1` does, and checks it as a user and Claude
// Desktop meet it: the six binaries, SHA256SUMS, and the bundle unpacked
// both by Go and by the official mcpb CLI, which also validates its
// manifest.
func TestRelease(t *testing.T) {
	testutil.CheckNoChildren(t)
	out := t.TempDir()
	if err := run(t.Context(), options{Out: out, Version: testVersion}); err != nil {
		t.Fatalf("run: %v", err)
	}
	root, err := moduleRoot(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("binaries", func(t *testing.T) { checkBinaries(t, out, root) })
	t.Run("sums", func(t *testing.T) { checkSums(t, out) })
	t.Run("zip", func(t *testing.T) {
		dir := unzip(t, filepath.Join(out, bundleName))
		checkBundle(t, dir, out)
	})
	t.Run("mcpb", func(t *testing.T) {
		mcpb := mcpbCLI(t)
		dir := filepath.Join(t.TempDir(), "unpacked")
		runOK(t, mcpb, "unpack", filepath.Join(out, bundleName), dir)
		if got := runOK(t, mcpb, "validate", filepath.Join(dir, "manifest.json")); !strings.Contains(got, "validation passes") {
			t.Errorf("mcpb validate printed %q, want it to say the validation passes", got)
		}
		checkBundle(t, dir, out)
		checkExecutable(t, dir)
		checkResolved(t, mcpb, dir)
	})
}

// checkBinaries checks each target's binary: its format and CPU, no cgo
// (no ELF interpreter), no absolute source paths (-trimpath), the version
// stamped; and runs the host's to see `mcpmux version` print it.
func checkBinaries(t *testing.T, out, root string) {
	for _, tg := range targets {
		path := filepath.Join(out, tg.fileName())
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := binaryArch(t, path); got != tg {
			t.Errorf("%s is a %s/%s binary, want %s/%s", tg.fileName(), got.GOOS, got.GOARCH, tg.GOOS, tg.GOARCH)
		}
		if !bytes.Contains(data, []byte("v"+testVersion)) {
			t.Errorf("%s does not hold its version v%s", tg.fileName(), testVersion)
		}
		if bytes.Contains(data, []byte(root)) {
			t.Errorf("%s holds the source path %s: built without -trimpath?", tg.fileName(), root)
		}
		if tg.GOOS != runtime.GOOS || tg.GOARCH != runtime.GOARCH {
			continue
		}
		if got := runOK(t, path, "version"); got != "mcpmux v"+testVersion+"\n" {
			t.Errorf("%s version = %q, want %q", tg.fileName(), got, "mcpmux v"+testVersion+"\n")
		}
	}
}

// binaryArch reads the OS and CPU of the executable at path from its
// headers (PE, Mach-O or ELF); an ELF with an interpreter fails t, since a
// release binary is static.
func binaryArch(t *testing.T, path string) target {
	t.Helper()
	if f, err := pe.Open(path); err == nil {
		defer f.Close()
		return target{"windows", map[uint16]string{pe.IMAGE_FILE_MACHINE_AMD64: "amd64", pe.IMAGE_FILE_MACHINE_ARM64: "arm64"}[f.Machine]}
	}
	if f, err := macho.Open(path); err == nil {
		defer f.Close()
		if f.Type != macho.TypeExec {
			t.Errorf("%s: Mach-O type %v, want an executable", path, f.Type)
		}
		return target{"darwin", map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}[f.Cpu]}
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s is neither PE, Mach-O nor ELF: %v", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has an ELF interpreter: built with cgo?", path)
		}
	}
	return target{"linux", map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}[f.Machine]}
}

// checkSums checks SHA256SUMS: one line per release file, none missing,
// each hash right.
func checkSums(t *testing.T, out string) {
	f, err := os.Open(filepath.Join(out, sumsName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("%s line %q is not HASH  NAME", sumsName, sc.Text())
		}
		names = append(names, name)
		if got, err := fileSHA256(filepath.Join(out, name)); err != nil || got != sum {
			t.Errorf("%s: sha256 %s, %v; %s says %s", name, got, err, sumsName, sum)
		}
	}
	var want []string
	for _, tg := range targets {
		want = append(want, tg.fileName())
	}
	want = append(want, bundleName)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("%s lists %q, want %q", sumsName, names, want)
	}
	if sha, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command(sha, "-c", sumsName)
		cmd.Dir = out
		if got, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c: %v\n%s", err, got)
		}
	}
}

// bundleManifest is what checkBundle reads of manifest.json: its own
// shape, so that the test does not trust the types that wrote it.
type bundleManifest struct {
	ManifestVersion string `json:"manifest_version"`
	Version         string `json:"version"`
	Server          struct {
		Type       string `json:"type"`
		EntryPoint string `json:"entry_point"`
		MCPConfig  struct {
			Command           string   `json:"command"`
			Args              []string `json:"args"`
			PlatformOverrides map[string]struct {
				Command string `json:"command"`
			} `json:"platform_overrides"`
		} `json:"mcp_config"`
	} `json:"server"`
	Compatibility struct {
		Platforms []string `json:"platforms"`
	} `json:"compatibility"`
	UserConfig map[string]struct {
		Type     string `json:"type"`
		Required bool   `json:"required"`
	} `json:"user_config"`
}

// checkBundle checks the bundle unpacked into dir: the manifest's fields
// that Claude Desktop acts on, a Windows amd64 .exe and a universal macOS
// binary (amd64 and arm64, the release's own darwin builds in out) at the
// paths the platform overrides name.
func checkBundle(t *testing.T, dir, out string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m bundleManifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if m.ManifestVersion != "0.3" || m.Version != testVersion || m.Server.Type != "binary" {
		t.Errorf("manifest_version %q, version %q, server.type %q; want 0.3, %s, binary", m.ManifestVersion, m.Version, m.Server.Type, testVersion)
	}
	for _, p := range []string{"darwin", "win32"} {
		if !slices.Contains(m.Compatibility.Platforms, p) {
			t.Errorf("compatibility.platforms = %q, want %s among them", m.Compatibility.Platforms, p)
		}
	}
	if len(m.UserConfig) != 1 {
		t.Fatalf("user_config has %d entries, want one: the configuration file", len(m.UserConfig))
	}
	for key, opt := range m.UserConfig {
		if opt.Type != "file" || !opt.Required {
			t.Errorf("user_config.%s: type %q, required %v; want a required file", key, opt.Type, opt.Required)
		}
		want := []string{"serve", "--config", "${user_config." + key + "}"}
		if !slices.Equal(m.Server.MCPConfig.Args, want) {
			t.Errorf("mcp_config.args = %q, want %q", m.Server.MCPConfig.Args, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(m.Server.EntryPoint))); err != nil {
		t.Errorf("entry_point: %v", err)
	}
	overrides := m.Server.MCPConfig.PlatformOverrides
	exe := bundlePath(t, dir, overrides["win32"].Command)
	if got := binaryArch(t, exe); got != (target{"windows", "amd64"}) {
		t.Errorf("win32 command %s is a %s/%s binary, want windows/amd64", overrides["win32"].Command, got.GOOS, got.GOARCH)
	}
	if !strings.HasSuffix(exe, ".exe") {
		t.Errorf("win32 command %s does not end in .exe", overrides["win32"].Command)
	}
	checkUniversal(t, bundlePath(t, dir, overrides["darwin"].Command), out)
	if cmd := bundlePath(t, dir, m.Server.MCPConfig.Command); cmd != bundlePath(t, dir, overrides["darwin"].Command) {
		t.Errorf("mcp_config.command = %s, want the macOS binary", m.Server.MCPConfig.Command)
	}
}

// bundlePath resolves a command of the manifest, ${__dirname}/REL, in dir,
// and fails t unless a file is there.
func bundlePath(t *testing.T, dir, command string) string {
	t.Helper()
	rel, ok := strings.CutPrefix(command, "${__dirname}/")
	if !ok || !filepath.IsLocal(filepath.FromSlash(rel)) {
		t.Fatalf("command %q is not ${__dirname}/ and a path inside the bundle", command)
	}
	path := filepath.Join(dir, filepath.FromSlash(rel))
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("command %q: %v", command, err)
	}
	return path
}

// checkUniversal checks that path is a universal Mach-O binary whose
// slices are exactly the release's darwin/amd64 and darwin/arm64 builds.
func checkUniversal(t *testing.T, path, out string) {
	t.Helper()
	ff, err := macho.OpenFat(path)
	if err != nil {
		t.Fatalf("macOS binary %s: %v", path, err)
	}
	defer ff.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cpus []string
	for _, a := range ff.Arches {
		tg := target{"darwin", map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}[a.Cpu]}
		cpus = append(cpus, tg.GOARCH)
		if a.Type != macho.TypeExec || a.Offset%(1<<universalAlign) != 0 {
			t.Errorf("slice %v: type %v at offset %d, want an executable aligned to %d", a.Cpu, a.Type, a.Offset, 1<<universalAlign)
		}
		want, err := os.ReadFile(filepath.Join(out, tg.fileName()))
		if err != nil {
			t.Fatalf("slice %v: %v", a.Cpu, err)
		}
		if !bytes.Equal(raw[a.Offset:a.Offset+a.Size], want) {
			t.Errorf("slice %v differs from %s", a.Cpu, tg.fileName())
		}
		if a.Cpu == macho.CpuArm64 && !codeSigned(a.File) {
			t.Errorf("arm64 slice has no code signature: Apple silicon Macs would refuse to run it")
		}
	}
	if slices.Sort(cpus); !slices.Equal(cpus, []string{"amd64", "arm64"}) {
		t.Errorf("macOS binary's slices: %q, want amd64 and arm64", cpus)
	}
}

// codeSigned reports whether f has an LC_CODE_SIGNATURE load command, the
// ad-hoc signature the Go linker gives darwin/arm64 binaries.
func codeSigned(f *macho.File) bool {
	const lcCodeSignature = 0x1d
	for _, l := range f.Loads {
		if raw := l.Raw(); len(raw) >= 4 && f.ByteOrder.Uint32(raw) == lcCodeSignature {
			return true
		}
	}
	return false
}

// checkExecutable checks that both binaries of the bundle unpacked in dir
// are executable, as the zip's Unix modes say they must be.
func checkExecutable(t *testing.T, dir string) {
	for _, rel := range []string{bundleDarwin, bundleWindows} {
		info, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode()&0o111 == 0 {
			t.Errorf("%s unpacked with mode %v, want executable", rel, info.Mode())
		}
	}
}

// resolveScript resolves the manifest in argv[2] as a host does, with the
// mcpb library's own getMcpConfigForManifest (argv[1] is the library):
// once with the configuration file argv[3] chosen, once with nothing.
const resolveScript = `
import fs from "node:fs";
import url from "node:url";
const [lib, dir, file] = process.argv.slice(1);
const { getMcpConfigForManifest } = await import(url.pathToFileURL(lib).href);
const manifest = JSON.parse(fs.readFileSync(dir + "/manifest.json", "utf8"));
const resolve = (userConfig) => getMcpConfigForManifest({ manifest, extensionPath: dir, systemDirs: {}, userConfig, pathSeparator: "/" });
const [chosen, unset] = [await resolve({ [Object.keys(manifest.user_config)[0]]: file }), await resolve({})];
console.log(JSON.stringify({ chosen, unset: unset ?? null }));
`

// checkResolved checks the command line a host makes of the manifest
// (mcpb's own substitution, here on Linux, without a platform override):
// serve --config FILE once the user has chosen FILE, and no server at all
// before, since the setting is required.
func checkResolved(t *testing.T, mcpb, dir string) {
	t.Helper()
	lib := filepath.Join(filepath.Dir(filepath.Dir(mcpb)), "index.js") // dist/cli/cli.js -> dist/index.js
	file := filepath.Join(t.TempDir(), "my config", "config.json")
	out, err := exec.Command("node", "--input-type=module", "-e", resolveScript, lib, dir, file).Output()
	if err != nil {
		t.Fatalf("resolving the manifest with mcpb's library: %v", err)
	}
	got := string(out)
	var r struct {
		Chosen *struct {
			Command string   `json:"command"`
			Args    []string `json:"args"`
		} `json:"chosen"`
		Unset json.RawMessage `json:"unset"`
	}
	if err := json.Unmarshal([]byte(got), &r); err != nil {
		t.Fatalf("resolving the manifest printed %q: %v", got, err)
	}
	want := []string{"serve", "--config", file}
	if r.Chosen == nil || r.Chosen.Command != dir+"/"+bundleDarwin || !slices.Equal(r.Chosen.Args, want) {
		t.Errorf("resolved with a file chosen: %s, want command %s/%s and args %q", got, dir, bundleDarwin, want)
	}
	if string(r.Unset) != "null" {
		t.Errorf("resolved with no file chosen: %s, want no server (the setting is required)", r.Unset)
	}
}

// unzip extracts the zip at path into a new directory and returns it; an
// entry that is not a local path fails t.
func unzip(t *testing.T, path string) string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	dir := t.TempDir()
	for _, f := range zr.File {
		if !filepath.IsLocal(f.Name) {
			t.Fatalf("%s: entry %q is not a local path", path, f.Name)
		}
		if strings.HasPrefix(f.Name, "server/") && f.Mode()&0o111 == 0 {
			t.Errorf("%s: %s has mode %v, want executable", path, f.Name, f.Mode())
		}
		dst := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %s: %v", path, f.Name, err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mcpbCLI returns the path of the official mcpb CLI, installed with npm
// into a prefix of its own (mcpb/npm under the test cache that .ci/run
// also installs it into), so that its install never rearranges the
// node_modules the other tests' servers run from. It skips t without node
// and npm.
func mcpbCLI(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found on PATH: skipping the official mcpb CLI's unpack and validate of the bundle", tool)
		}
	}
	base := os.Getenv("MCPMUX_TEST_CACHE")
	if base == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		base = filepath.Join(cache, "mcpmux-test")
	}
	t.Setenv("MCPMUX_TEST_CACHE", filepath.Join(base, "mcpb"))
	return testutil.NPMBin(t, mcpbPkg, mcpbVersion, mcpbBin)
}

// runOK runs name with args and returns its output, failing t if it fails.
func runOK(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}
