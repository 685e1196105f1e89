package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// mainPackage is the command the release ships.
const mainPackage = "github.com/mcpmux/mcpmux/cmd/mcpmux"

// target is one GOOS/GOARCH pair the release builds for.
type target struct {
	GOOS, GOARCH string
}

// targets are the release's platforms, in the order they are built.
var targets = []target{
	{"windows", "amd64"}, {"windows", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"linux", "amd64"}, {"linux", "arm64"},
}

// fileName is the name of t's binary in the release directory:
// mcpmux-windows-amd64.exe, mcpmux-darwin-arm64, ...
func (t target) fileName() string {
	name := "mcpmux-" + t.GOOS + "-" + t.GOARCH
	if t.GOOS == "windows" {
		name += ".exe"
	}
	return name
}

// goBuild builds mainPackage for t into out, as a `go build` child process
// run in the module's root, without cgo, with -trimpath, stripped of its
// symbol table and DWARF (stack traces keep their names), and with
// version stamped into main.buildVersion.
func goBuild(ctx context.Context, root string, t target, version, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-s -w -X main.buildVersion=v"+version,
		"-o", out, mainPackage)
	cmd.Dir = root
	// Later entries win: the target's settings override the caller's.
	cmd.Env = append(os.Environ(), "GOOS="+t.GOOS, "GOARCH="+t.GOARCH, "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s/%s: %w\n%s", t.GOOS, t.GOARCH, err, bytes.TrimSpace(output))
	}
	return nil
}

// moduleRoot returns the root directory of the module that dir (empty: the
// current directory) is in, as the go command finds it.
func moduleRoot(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOMOD")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("finding the module: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the mcpmux module: run it from a clone of mcpmux")
	}
	return filepath.Dir(gomod), nil
}
