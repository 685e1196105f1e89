package registry

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/mcpmux/mcpmux/internal/jsonrpc"
)

// Bounds and default of [Config.MaxMessageSize].
const (
	MinMessageSize     Size = 1 << 10
	MaxMessageSize     Size = 4 << 30
	DefaultMessageSize Size = 64 << 20
)

// Size is a number of bytes, written in JSON as a number or as a string
// with a unit: "64MB", "512 KB", "1.5GB". KB, MB and GB are powers of
// 1024, and so are KiB, MiB and GiB.
type Size int64

var (
	_ json.Marshaler   = Size(0)
	_ json.Unmarshaler = (*Size)(nil)
)

var sizeUnits = []struct {
	suffix string
	factor float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	{"b", 1},
}

// ParseSize reads a size: a number of bytes, or a number with a unit.
func ParseSize(s string) (Size, error) {
	text := strings.ToLower(strings.TrimSpace(s))
	factor := 1.0
	for _, u := range sizeUnits {
		if num, ok := strings.CutSuffix(text, u.suffix); ok {
			text, factor = strings.TrimSpace(num), u.factor
			break
		}
	}
	n, err := strconv.ParseFloat(text, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || n*factor > math.MaxInt64/2 {
		return 0, fmt.Errorf(`must be a size like "64MB", "512KB" or a number of bytes, got %q`, s)
	}
	return Size(n * factor), nil
}

// String writes the size with the largest unit that divides it.
func (s Size) String() string {
	for _, u := range []struct {
		name string
		n    Size
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}} {
		if s >= u.n && s%u.n == 0 {
			return strconv.FormatInt(int64(s/u.n), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// MarshalJSON writes the size as a string with a unit.
func (s Size) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a number of bytes or a string with a unit.
func (s *Size) UnmarshalJSON(data []byte) error {
	switch kind := jsonrpc.Kind(data); kind {
	case "null":
		return nil
	case "a number":
		return s.set(string(data))
	case "a string":
		var text string
		if err := json.Unmarshal(data, &text); err != nil {
			return err
		}
		return s.set(text)
	default:
		return fmt.Errorf(`must be a size like "64MB" or a number of bytes, got %s`, kind)
	}
}

func (s *Size) set(text string) error {
	n, err := ParseSize(text)
	if err != nil {
		return err
	}
	*s = n
	return nil
}

// Set implements flag.Value.
func (s *Size) Set(text string) error { return s.set(text) }

// checkMessageSize reports a maxMessageSize out of bounds; 0 means the
// default.
func checkMessageSize(s Size) error {
	if s != 0 && (s < MinMessageSize || s > MaxMessageSize) {
		return fmt.Errorf(`field "maxMessageSize": must be from %s to %s (the default is %s), got %s`, MinMessageSize, MaxMessageSize, DefaultMessageSize, s)
	}
	return nil
}
