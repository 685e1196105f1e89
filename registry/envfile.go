package registry

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// maxEnvFile bounds an envFile: a file of variables, not a data set.
const maxEnvFile = 1 << 20

// ParseEnvFile decodes the lines of an env file, as VS Code's "envFile"
// names one: NAME=value, with blank lines and lines starting with # left
// out, an optional "export " before the name, and the value optionally in
// single or double quotes (kept as written inside them). Its errors give
// the line, never a value.
func ParseEnvFile(data []byte) (map[string]string, error) {
	out := make(map[string]string)
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok || !isVarName(name) {
			return nil, fmt.Errorf("line %d: want NAME=value", i+1)
		}
		value = strings.TrimSpace(value)
		if n := len(value); n >= 2 && (value[0] == '"' || value[0] == '\'') && value[n-1] == value[0] {
			value = value[1 : n-1]
		}
		out[name] = value
	}
	return out, nil
}

// loadEnvFiles reads the envFile of every server that names one, relative
// to dir, and sets its variables in the server's Env, under the entries
// Env has of its own. A server whose file cannot be read becomes invalid.
func (c *Config) loadEnvFiles(dir string) {
	for _, name := range slices.Sorted(maps.Keys(c.Servers)) {
		s := c.Servers[name]
		if s.EnvFile == "" || s.Disabled {
			continue
		}
		if err := s.loadEnvFile(dir); err != nil {
			delete(c.Servers, name)
			if c.Invalid == nil {
				c.Invalid = make(map[string]error)
			}
			c.Invalid[name] = &fieldError{name, "envFile", err}
			c.rejected = append(c.rejected, s)
		}
	}
}

func (s *Server) loadEnvFile(dir string) error {
	path := s.EnvFile
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxEnvFile+1)); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if buf.Len() > maxEnvFile {
		return fmt.Errorf("%s is larger than %d bytes", path, maxEnvFile)
	}
	vars, err := ParseEnvFile(buf.Bytes())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if s.Env == nil {
		s.Env = make(map[string]string, len(vars))
	}
	for k, v := range vars {
		if _, own := s.Env[k]; !own {
			s.Env[k] = v
		}
	}
	return nil
}
