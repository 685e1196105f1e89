package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// sumsName is the checksum file in the release directory.
const sumsName = "SHA256SUMS"

// writeSums writes out/SHA256SUMS: one "HASH  NAME" line per file of
// names, sorted by name, as `sha256sum` prints them and `sha256sum -c`
// checks them.
func writeSums(out string, names []string) error {
	names = slices.Sorted(slices.Values(names))
	var b strings.Builder
	for _, name := range names {
		sum, err := fileSHA256(filepath.Join(out, name))
		if err != nil {
			return fmt.Errorf("hashing %s: %w", name, err)
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, name)
	}
	return os.WriteFile(filepath.Join(out, sumsName), []byte(b.String()), 0o644)
}

// fileSHA256 returns the hex SHA-256 of the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
