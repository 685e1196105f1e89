package main

import (
	"bytes"
	"debug/macho"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersionFromDescribe(t *testing.T) {
	tests := []struct {
		name, describe, want string
	}{
		{"tag", "v1.2.0", "1.2.0"},
		{"pre-release tag", "v1.2.0-rc.1", "1.2.0-rc.1"},
		{"after a tag", "v1.2.0-3-gabc1234", "1.2.0-3-gabc1234"},
		{"after a tag, dirty", "v1.2.0-3-gabc1234-dirty", "1.2.0-3-gabc1234-dirty"},
		{"no tag", "abc1234", "0.0.0-gabc1234"},
		{"no tag, a hash of digits", "0123456", "0.0.0-g0123456"},
		{"no tag, dirty", "abc1234-dirty", "0.0.0-gabc1234-dirty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := versionFromDescribe(tt.describe); err != nil || got != tt.want {
				t.Errorf("versionFromDescribe(%q) = %q, %v, want %q", tt.describe, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "v1.2", "v01.2.3", "ab cd"} {
		if got, err := versionFromDescribe(bad); err == nil {
			t.Errorf("versionFromDescribe(%q) = %q, want an error", bad, got)
		}
	}
}

// -version takes semver with or without the v, and nothing else; without
// it, the version comes from git describe of this checkout.
func TestResolveVersion(t *testing.T) {
	for flag, want := range map[string]string{"v1.2.0": "1.2.0", "1.2.0+build.5": "1.2.0+build.5"} {
		if got, err := resolveVersion(t.Context(), "", flag); err != nil || got != want {
			t.Errorf("resolveVersion(-version %s) = %q, %v, want %q", flag, got, err, want)
		}
	}
	for _, flag := range []string{"1.2", "latest", "v1.2.0 "} {
		if got, err := resolveVersion(t.Context(), "", flag); err == nil || !strings.Contains(err.Error(), "-version") {
			t.Errorf("resolveVersion(-version %q) = %q, %v, want an error naming -version", flag, got, err)
		}
	}
	root, err := moduleRoot(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		t.Skipf("not a git checkout (%v): no git describe to test", err)
	}
	if got, err := resolveVersion(t.Context(), root, ""); err != nil || !semverRE.MatchString(got) {
		t.Errorf("resolveVersion from git describe = %q, %v, want a semantic version", got, err)
	}
}

// thinMachO returns the smallest 64-bit Mach-O executable header of cpu,
// with no load commands, followed by body.
func thinMachO(cpu macho.Cpu, body string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, macho.Magic64)
	for _, v := range []uint32{uint32(cpu), 3, uint32(macho.TypeExec), 0, 0, 0, 0} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return append(b, body...)
}

func TestWriteUniversal(t *testing.T) {
	amd, arm := thinMachO(macho.CpuAmd64, "amd64 code"), thinMachO(macho.CpuArm64, strings.Repeat("arm64 code", 2000))
	var buf bytes.Buffer
	if err := writeUniversal(&buf, amd, arm); err != nil {
		t.Fatal(err)
	}
	ff, err := macho.NewFatFile(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("NewFatFile: %v", err)
	}
	if len(ff.Arches) != 2 {
		t.Fatalf("%d slices, want 2", len(ff.Arches))
	}
	for i, want := range [][]byte{amd, arm} {
		a := ff.Arches[i]
		if a.Offset%(1<<universalAlign) != 0 || a.Align != universalAlign {
			t.Errorf("slice %d at offset %d, align %d; want a multiple of 2^%d", i, a.Offset, a.Align, universalAlign)
		}
		if got := buf.Bytes()[a.Offset : a.Offset+a.Size]; !bytes.Equal(got, want) {
			t.Errorf("slice %d (%v) is not the thin binary given", i, a.Cpu)
		}
	}
	if end := ff.Arches[1].Offset + ff.Arches[1].Size; int(end) != buf.Len() {
		t.Errorf("file is %d bytes, its last slice ends at %d", buf.Len(), end)
	}

	for name, slices := range map[string][][]byte{
		"not Mach-O": {amd, []byte("MZ not a mach-o binary at all.....")},
		"same CPU":   {amd, thinMachO(macho.CpuAmd64, "again")},
	} {
		if err := writeUniversal(&bytes.Buffer{}, slices...); err == nil {
			t.Errorf("writeUniversal(%s) succeeded, want an error", name)
		}
	}
}

// The manifest's checks are real: the official CLI refuses a manifest
// that breaks the 0.3 schema, so the release test's validate can fail.
func TestMCPBValidateRefuses(t *testing.T) {
	mcpb := mcpbCLI(t)
	dir := t.TempDir()
	m := manifestFor("1.0.0")
	m.Server.Type = "exe"
	data, err := m.encode()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "manifest.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := combined(mcpb, "validate", path); err == nil {
		t.Errorf("mcpb validate of a server.type \"exe\" passed:\n%s", out)
	}
	m = manifestFor("1.0.0")
	if data, err = m.encode(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := combined(mcpb, "validate", path); err != nil {
		t.Errorf("mcpb validate of the release's manifest: %v\n%s", err, out)
	}
}

// combined runs name with args and returns its output and error.
func combined(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
